"""Shared helpers for the pretraining tests: a tiny on-disk dataset and a params file in tmp."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]


def write_videos(dataset_dir: Path, n: int = 6, frames: int = 10, size: tuple[int, int] = (40, 48),
                 seed: int = 0, store: bool = True) -> None:
    """n small mp4 clips (moving squares over noise) plus manifest.jsonl / manifest.json and, when
    `store`, the clip store the steps read (`<root>/cache/<profile>/<dataset>/clips` for a dataset
    at `<root>/data/<profile>/<dataset>`, as data.store.enabled asks in the smoke profile)."""
    import av

    from motionmvm.data import manifest

    rng = np.random.default_rng(seed)
    (dataset_dir / "videos").mkdir(parents=True, exist_ok=True)
    entries = []
    h, w = size
    for i in range(n):
        rel = f"videos/clip{i}.mp4"
        with av.open(str(dataset_dir / rel), "w") as out:
            stream = out.add_stream("mpeg4", rate=10)
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            base = rng.integers(0, 120, (h, w, 3), dtype=np.uint8)
            for t in range(frames):
                img = base.copy()
                y, x = (3 * t + 5 * i) % (h - 10), (4 * t + 7 * i) % (w - 10)
                img[y:y + 10, x:x + 10] = 255
                for pkt in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                    out.mux(pkt)
            for pkt in stream.encode():
                out.mux(pkt)
        entries.append({"clip_id": f"clip{i}", "path": rel, "label": i % 2, "label_name": f"c{i % 2}",
                        "split": "train", "domain": "a", "frames": frames, "fps": 10.0, "width": w,
                        "height": h, "size": 0, "sha256": "", "status": "ok", "reason": ""})
    manifest.write(dataset_dir, entries)
    if store:
        from motionmvm.data import store as clip_store

        root, profile = dataset_dir.parents[2], dataset_dir.parent.name
        clip_store.build(dataset_dir, root / "cache" / profile / dataset_dir.name / "clips", log=lambda _: None)


def write_params(tmp: Path, profile: str = "smoke", **sections) -> Path:
    """A params.yaml in `tmp` (with the repository's schemas linked) whose paths point into tmp;
    `sections` deep-override the chosen profile, e.g. pretrain={"epochs": 3}."""
    from motionmvm.config import deep_merge

    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["profile"] = profile
    raw["paths"] = {k: str(tmp / k) for k in ("data", "cache", "runs", "results")}
    raw["profiles"][profile] = deep_merge(raw["profiles"].get(profile) or {}, sections)
    (tmp / "workflow").mkdir(exist_ok=True)
    shutil.rmtree(tmp / "workflow" / "schemas", ignore_errors=True)
    shutil.copytree(REPO / "workflow" / "schemas", tmp / "workflow" / "schemas")
    path = tmp / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def write_demvm_inputs(root: Path, clip_ids, *, frames: int, height: int, width: int, size: int,
                       n_codes: int, rng: np.random.Generator, dirs=("tokens", "tokens2d")) -> None:
    """DEMVM's inputs under cache/P/D (= root), in the documented formats: a KLT cache entry
    (`motion/klt/<id>.npz`, motion_map uint8 [F-1, H/8, W/8]) and token targets per clip
    (`<dir>/<id>.npz`: tokens uint16 [T_tok, size/8, size/8], frame stride 2 and temporal
    downsampling 2, so token step k starts at frame 4k)."""
    (root / "motion" / "klt").mkdir(parents=True, exist_ok=True)
    for cid in clip_ids:
        np.savez(root / "motion" / "klt" / f"{cid}.npz", settings_hash=np.array("x"),
                 motion_map=(rng.random((frames - 1, height // 8, width // 8)) > 0.6).astype(np.uint8))
        for sub in dirs:
            (root / sub).mkdir(parents=True, exist_ok=True)
            np.savez(root / sub / f"{cid}.npz",
                     tokens=rng.integers(0, n_codes, (frames // 4, size // 8, size // 8)).astype(np.uint16),
                     frame_index=np.arange(0, frames, 4), frame_stride=np.int64(2), size=np.int64(size),
                     n_codes=np.int64(n_codes))
