"""Train a video tokenizer on one dataset; report reconstruction PSNR and codebook usage.

Outputs (P = profile): `runs/P/tokenizer/<D>/` (3D VQ-VAE) or `runs/P/tokenizer2d/<D>/` (2D VQ):
`tokenizer.pt` ({kind, config, preprocess, state_dict}; torch.load(weights_only=True)) and
`metrics.json` (PSNR before/after on held-out clips, perplexity, codes used, dead codes, loss curve).
Every `ckpt_every` steps the training state (weights, optimizer, curve, RNG streams) goes to
`checkpoint.pt` beside them; a rerun with the same settings (a requeued SLURM job) resumes from it
exactly, and it is removed once the outputs are written.
"""
from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import numpy as np
import torch

from motionmvm import io
from motionmvm.data import clips as cp

KINDS = {"3d": "vqvae3d", "2d": "vq2d"}


def paths(cfg: dict, dataset: str, kind: str) -> dict:
    p, prof = cfg["paths"], cfg["profile"]
    sub = "tokenizer" if kind == "3d" else "tokenizer2d"
    tok = "tokens" if kind == "3d" else "tokens2d"
    return {"dataset_dir": Path(p["data"]) / prof / dataset,
            "run_dir": Path(p["runs"]) / prof / sub / dataset,
            "tokens_dir": Path(p["cache"]) / prof / dataset / tok}


def build_tokenizer(kind: str, tcfg: dict) -> torch.nn.Module:
    """The tokenizer described by the `tokenizer` params section."""
    from motionmvm import models

    common = dict(embedding_dim=tcfg["embedding_dim"], n_codes=tcfg["n_codes"],
                  n_hiddens=tcfg["n_hiddens"], n_res_layers=tcfg["n_res_layers"],
                  decay=tcfg["decay"], commitment=tcfg["commitment"],
                  dead_threshold=tcfg["dead_threshold"], recon_scale=tcfg["recon_scale"])
    if kind == "3d":
        return models.build("vqvae3d", downsample=tuple(tcfg["downsample"]),
                            attn_heads=tcfg["attn_heads"], **common)
    if kind == "2d":
        return models.build("vq2d", temporal_stride=tcfg["downsample"][0], **common)
    raise ValueError(f"tokenizer kind must be one of {sorted(KINDS)}, got {kind!r}")


def load(path: str | Path, device: str = "cpu") -> tuple[torch.nn.Module, dict]:
    """(model in eval mode, checkpoint dict without the state dict) from a tokenizer.pt."""
    from motionmvm import models

    ckpt = torch.load(path, map_location=device, weights_only=True)
    model = models.build(ckpt["kind"], **ckpt["config"])
    model.load_state_dict(ckpt["state_dict"])
    meta = {k: v for k, v in ckpt.items() if k != "state_dict"}
    return model.to(device).eval(), meta


def psnr(x: torch.Tensor, y: torch.Tensor) -> float:
    """PSNR in dB of two tensors in [-0.5, 0.5] (peak 1)."""
    mse = float(((x.clamp(-0.5, 0.5) - y) ** 2).mean())
    return 10 * math.log10(1.0 / max(mse, 1e-12))


@torch.no_grad()
def evaluate(model, clips: torch.Tensor, batch: int, device) -> dict:
    """PSNR of reconstructions through the quantized codes and code usage over `clips`."""
    model.eval()
    recon_err, counts = [], torch.zeros(model.cfg.n_codes, dtype=torch.float64)
    for i in range(0, len(clips), batch):
        x = clips[i:i + batch].to(device)
        ids = model.encode(x)
        recon = model.decode(ids).float()
        if recon.shape[2] != x.shape[2]:  # 2D baseline encodes one frame per temporal stride
            x = x[:, :, ::model.cfg.temporal_stride]
        recon_err.append(((recon.clamp(-0.5, 0.5) - x) ** 2).mean(dim=(1, 2, 3, 4)).cpu())
        counts += torch.bincount(ids.flatten().cpu(), minlength=model.cfg.n_codes).double()
    mse = float(torch.cat(recon_err).mean())

    p = counts / counts.sum()
    perplexity = float(torch.exp(-(p[p > 0] * p[p > 0].log()).sum()))
    model.train()
    return {"psnr": 10 * math.log10(1.0 / max(mse, 1e-12)), "mse": mse,
            "perplexity": perplexity, "codes_used": int((counts > 0).sum())}


BN_BATCHES = 16


@torch.no_grad()
def recalibrate_batchnorm(model, batches) -> None:
    """Re-estimate BatchNorm running statistics as the plain average over `batches` with the
    current weights (codebook frozen: only BN layers are in training mode). Short runs otherwise
    evaluate with running stats still near their initialization (momentum 0.1), which collapses
    the codes in eval mode."""
    was_training = model.training
    model.eval()
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    for x in batches:
        model(x)
    for m, mom in zip(bns, saved):
        m.momentum = mom
    model.train(was_training)


class VideoStore:
    """Tokenizer training clips from some videos (`positions`) of a `data.clips.VideoSet`. At most
    `cache_videos` videos are preprocessed once and kept in memory ([3, T, h, w], frame stride
    applied); more decode only the frames of each sampled clip. Frames come through the clip path
    (the clip store when enabled), preprocessed by `data.clips.tokenizer_tensor`."""

    def __init__(self, videos, positions: list[int], size: int, input_downsample: int,
                 frame_stride: int, cache_videos: int = 512):
        self.videos, self.positions = videos, list(positions)
        self.size, self.ds, self.stride = size, input_downsample, frame_stride
        self.cached = len(self.positions) <= cache_videos
        self._cache: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.positions)

    def video(self, k: int) -> torch.Tensor:
        if k not in self._cache:
            frames = self.videos.read(self.positions[k])[::self.stride]
            self._cache[k] = cp.tokenizer_tensor(frames, self.size, self.ds)
        return self._cache[k]

    def window(self, k: int, idx: np.ndarray) -> torch.Tensor:
        return cp.tokenizer_tensor(self.videos.read(self.positions[k], idx.tolist()), self.size, self.ds)

    def random_clip(self, rng: np.random.Generator, clip_frames: int) -> torch.Tensor:
        """A random temporal window of `clip_frames` frames of a random video (short videos are
        padded by repeating their last frame), randomly flipped left-right."""
        k = int(rng.integers(len(self.positions)))
        if not self.cached:
            n = self.videos.num_frames(self.positions[k])
            clip = self.window(k, cp.random_window(n, clip_frames, self.stride, rng))
            return clip.flip(-1) if rng.random() < 0.5 else clip
        v = self.video(k)
        T = v.shape[1]
        if T < clip_frames:
            v = torch.cat([v, v[:, -1:].expand(-1, clip_frames - T, -1, -1)], dim=1)
            T = clip_frames
        start = int(rng.integers(T - clip_frames + 1))
        clip = v[:, start:start + clip_frames]
        return clip.flip(-1) if rng.random() < 0.5 else clip


def _eval_clips(store: VideoStore, n: int, clip_frames: int) -> torch.Tensor:
    """First window of the first n videos: a fixed held-out-style probe set (deterministic)."""
    out = []
    for k in range(min(n, len(store))):
        if store.cached:
            v = store.video(k)
        else:
            n_frames = store.videos.num_frames(store.positions[k])
            v = store.window(k, cp.window(n_frames, clip_frames, store.stride, 0))
        if v.shape[1] < clip_frames:
            v = torch.cat([v, v[:, -1:].expand(-1, clip_frames - v.shape[1], -1, -1)], dim=1)
        out.append(v[:, :clip_frames])
    return torch.stack(out)


def train(cfg: dict, dataset: str, kind: str = "3d", log=print) -> dict:
    """Train the tokenizer of `kind` on `dataset`'s training clips; write tokenizer.pt and metrics.json."""
    from motionmvm import provenance

    started = time.time()
    tcfg = cfg["tokenizer"]
    where = paths(cfg, dataset, kind)
    if tcfg["num_threads"] > 0:
        torch.set_num_threads(tcfg["num_threads"])
    clip_frames, size, ds = tcfg["clip_frames"], tcfg["size"], tcfg["input_downsample"]
    dt, dh, dw = tcfg["downsample"] if kind == "3d" else (tcfg["downsample"][0], 4, 4)
    if clip_frames % dt or (size // ds) % dh or (size // ds) % dw or size % ds:
        raise ValueError(f"tokenizer: clip {clip_frames}x{size}x{size} / input_downsample {ds} is not "
                         f"divisible by the stride {dt}x{dh}x{dw}")
    videos = cp.open_videos(cfg, dataset, dataset_dir=where["dataset_dir"])
    every = range(len(videos))
    train_pos = [i for i in every if videos.entries[i].get("split") == "train"] or list(every)
    held_out = [i for i in every if videos.entries[i].get("split") != "train"] or list(every)
    store = VideoStore(videos, train_pos, size, ds, tcfg["frame_stride"], tcfg["cache_videos"])
    probe = VideoStore(videos, held_out, size, ds, tcfg["frame_stride"], tcfg["cache_videos"])

    seed = tcfg["seed"]
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = build_tokenizer(kind, tcfg).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=tcfg["lr"])
    eval_x = _eval_clips(probe, tcfg["eval_clips"], clip_frames)
    resume = _Resume(where["run_dir"] / "checkpoint.pt", identity=[kind, dataset, tcfg, len(train_pos)])

    def batch():
        return torch.stack([store.random_clip(rng, clip_frames) for _ in range(tcfg["batch_size"])]).to(device)

    # The codebook is initialized from the first batch: evaluate the untrained network after that
    # (with BN statistics of its own activations, as the final evaluation).
    model.train()
    curve = []
    before = None
    start = 0
    if resume.exists():
        start, curve, before = resume.load(model, opt, rng, device)
        log(f"tokenizer {kind} {dataset}: resumed at step {start}")
    for step in range(start + 1, tcfg["steps"] + 1):
        x = batch()
        out = model(x)
        if before is None:
            recalibrate_batchnorm(model, [x] + [batch() for _ in range(BN_BATCHES - 1)])
            before = evaluate(model, eval_x, tcfg["batch_size"], device)
            out = model(x)  # graph of the batch again (recalibration ran without gradients)
        opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        opt.step()
        if step == 1 or step % tcfg["log_every"] == 0 or step == tcfg["steps"]:
            row = {"step": step, "loss": out["loss"].item(), "recon_loss": out["recon_loss"].item(),
                   "perplexity": out["perplexity"].item(),
                   "dead_codes": model.codebook.dead_codes()}
            curve.append(row)
            log(f"tokenizer {kind} {dataset} step {step}/{tcfg['steps']} loss {row['loss']:.4f} "
                f"recon {row['recon_loss']:.4f} perplexity {row['perplexity']:.1f}")
        if step % tcfg["ckpt_every"] == 0 and step < tcfg["steps"]:
            resume.save(step, model, opt, rng, curve, before)
    recalibrate_batchnorm(model, [batch() for _ in range(BN_BATCHES)])
    after = evaluate(model, eval_x, tcfg["batch_size"], device)

    config = dataclasses.asdict(model.cfg)
    ckpt = {"kind": KINDS[kind], "config": config,
            "preprocess": {"size": size, "input_downsample": ds, "clip_frames": clip_frames,
                           "frame_stride": tcfg["frame_stride"]},
            "dataset": dataset,
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}
    ckpt_path = where["run_dir"] / "tokenizer.pt"
    io.atomic_torch_save(ckpt, ckpt_path)
    metrics = {
        "kind": KINDS[kind], "dataset": dataset, "steps": tcfg["steps"],
        "train_clips": len(train_pos), "eval_clips": int(len(eval_x)),
        "psnr_init": before["psnr"], "psnr": after["psnr"], "psnr_gain": after["psnr"] - before["psnr"],
        "mse": after["mse"], "perplexity": after["perplexity"], "codes_used": after["codes_used"],
        "n_codes": model.cfg.n_codes, "dead_codes": model.codebook.dead_codes(),
        "codes_reset_total": model.codebook.total_resets,
        "token_grid_per_clip": list(model.token_grid(clip_frames, size // ds, size // ds)),
        "curve": curve,
        "provenance": provenance.record(cfg, dataset_dir=where["dataset_dir"], seed=seed,
                                        started=started, device=str(device)),
    }
    io.write_json(where["run_dir"] / "metrics.json", metrics)
    resume.path.unlink(missing_ok=True)
    log(f"tokenizer {kind} {dataset}: PSNR {before['psnr']:.2f} -> {after['psnr']:.2f} dB, "
        f"perplexity {after['perplexity']:.1f}, codes used {after['codes_used']}/{model.cfg.n_codes}, "
        f"dead {metrics['dead_codes']}")
    return metrics


class _Resume:
    """The tokenizer's training state in `path`, tied to the settings that produced it."""

    def __init__(self, path: Path, identity: list):
        from motionmvm.config import params_hash

        self.path = Path(path)
        self.identity = params_hash({"identity": identity})

    def exists(self) -> bool:
        if not self.path.exists():
            return False
        if torch.load(self.path, map_location="cpu", weights_only=False)["identity"] != self.identity:
            self.path.unlink()  # another configuration's state: start over
            return False
        return True

    def save(self, step: int, model, opt, rng: np.random.Generator, curve: list, before: dict | None) -> None:
        io.atomic_torch_save({
            "identity": self.identity, "step": step, "model": model.state_dict(), "optimizer": opt.state_dict(),
            "curve": curve, "before": before, "numpy": rng.bit_generator.state, "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "codes_reset_total": model.codebook.total_resets}, self.path)

    def load(self, model, opt, rng: np.random.Generator, device) -> tuple[int, list, dict | None]:
        state = torch.load(self.path, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        rng.bit_generator.state = state["numpy"]
        model.codebook.total_resets = state["codes_reset_total"]
        torch.set_rng_state(state["torch"].cpu())
        if state["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
        return state["step"], state["curve"], state["before"]
