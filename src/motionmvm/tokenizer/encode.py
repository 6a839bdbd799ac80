"""Encode every usable clip of a dataset to token ids with a trained tokenizer.

Per clip `cache/P/<D>/tokens/<clip_id>.npz` (2D baseline: `tokens2d/`):
- `tokens` uint16 [T_tok, h, w]: ids of the whole video read every `frame_stride` frames,
  resized (short side) + centre-cropped to `size`, downsampled by `input_downsample`, encoded in
  windows of `clip_frames` (the tail window padded by repeating the last frame; padded steps cut);
  h = size / (input_downsample * 4), so with DEMVM's defaults the map is T/2 x H/8 x W/8 of the
  pretraining input;
- `frame_index` int64 [T_tok]: decoded-video frame index of the first frame of each token step;
- `frame_stride`, `size`, `n_codes`.
An `index.json` (clip ids, tokenizer sha256, settings) is written last: its presence means done.
"""
from __future__ import annotations

import io as _io
from pathlib import Path

import numpy as np
import torch

from motionmvm import io
from motionmvm.data import clips as cp
from motionmvm.tokenizer.train import load, paths


@torch.no_grad()
def encode_video(model, video: torch.Tensor, clip_frames: int, temporal_stride: int,
                 batch: int = 4) -> np.ndarray:
    """video [3, T, h, w] in [-0.5, 0.5] -> ids [ceil(T / stride), h', w'] (windows of clip_frames)."""
    T = video.shape[1]
    n_win = max(1, -(-T // clip_frames))
    pad = n_win * clip_frames - T
    if pad:
        video = torch.cat([video, video[:, -1:].expand(-1, pad, -1, -1)], dim=1)
    windows = video.reshape(3, n_win, clip_frames, *video.shape[2:]).transpose(0, 1)
    device = next(model.parameters()).device
    ids = torch.cat([model.encode(windows[i:i + batch].to(device)).cpu()
                     for i in range(0, n_win, batch)])  # [n_win, t', h', w']
    ids = ids.reshape(-1, *ids.shape[2:])
    return ids[: -(-T // temporal_stride)].numpy()


def encode(cfg: dict, dataset: str, kind: str = "3d", log=print) -> dict:
    where = paths(cfg, dataset, kind)
    ckpt_path = where["run_dir"] / "tokenizer.pt"
    if not ckpt_path.exists():
        raise FileNotFoundError(f"no tokenizer at {ckpt_path}: run `motionmvm tokenizer train "
                                f"--dataset {dataset}` first")
    tcfg = cfg["tokenizer"]
    if tcfg["num_threads"] > 0:
        torch.set_num_threads(tcfg["num_threads"])
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model, meta = load(ckpt_path, device)
    pre = meta["preprocess"]
    stride_t = model.cfg.downsample[0] if meta["kind"] == "vqvae3d" else model.cfg.temporal_stride
    if model.cfg.n_codes > np.iinfo(np.uint16).max + 1:
        raise ValueError(f"n_codes {model.cfg.n_codes} does not fit uint16 token ids")
    out_dir = where["tokens_dir"]
    out_dir.mkdir(parents=True, exist_ok=True)
    videos = cp.open_videos(cfg, dataset, dataset_dir=where["dataset_dir"])
    entries = videos.entries
    for n, e in enumerate(entries, 1):
        frames = videos.read(n - 1)
        idx = np.arange(0, len(frames), pre["frame_stride"])
        video = cp.tokenizer_tensor(frames[idx], pre["size"], pre["input_downsample"])
        ids = encode_video(model, video, pre["clip_frames"], stride_t)
        buf = _io.BytesIO()
        np.savez(buf, tokens=ids.astype(np.uint16), frame_index=idx[::stride_t][: len(ids)].astype(np.int64),
                 frame_stride=np.int64(pre["frame_stride"]), size=np.int64(pre["size"]),
                 n_codes=np.int64(model.cfg.n_codes))
        io.atomic_write_bytes(out_dir / f"{e['clip_id']}.npz", buf.getvalue())
        if n % 50 == 0 or n == len(entries):
            log(f"tokenizer encode {dataset}: {n}/{len(entries)} clips")
    index = {"clips": [e["clip_id"] for e in entries], "kind": meta["kind"],
             "tokenizer": str(ckpt_path), "tokenizer_sha256": io.sha256_file(ckpt_path),
             "preprocess": pre, "n_codes": model.cfg.n_codes,
             # token step in decoded-video frames and in pixels of the `size` crop
             "token_stride": {"frames": stride_t * pre["frame_stride"],
                              "pixels": pre["input_downsample"] * (model.cfg.downsample[1]
                                                                   if meta["kind"] == "vqvae3d" else 4)}}
    io.write_json(out_dir / "index.json", index)
    return index


def read_tokens(path: str | Path) -> dict:
    """One clip's token file as a dict of numpy arrays (tokens as int64)."""
    with np.load(path) as z:
        out = {k: z[k] for k in z.files}
    out["tokens"] = out["tokens"].astype(np.int64)
    return out
