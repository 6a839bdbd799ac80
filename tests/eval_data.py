"""Evaluation datasets on disk for tests: real H.264 clips (PyAV) whose colour is the class, with
classInd.txt, a manifest holding one quarantined clip, and the clip store."""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from motionmvm.data import manifest, store


def write_clip(path: Path, cls: int, rng, frames=12, size=32):
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=12)
        st.width = st.height = size
        st.pix_fmt = "yuv420p"
        for _ in range(frames):
            img = rng.integers(0, 90, (size, size, 3)).astype(np.uint8)
            img[..., cls % 3] += 150
            for pkt in st.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)


def make_dataset(root: Path, name: str, classes: list[str], per_split: dict, seed: int):
    d = root / "data" / "smoke" / name
    rng = np.random.default_rng(seed)
    (d).mkdir(parents=True)
    (d / "classInd.txt").write_text("".join(f"{i + 1} {c}\n" for i, c in enumerate(classes)))
    entries = []
    for split, n in per_split.items():
        for ci, c in enumerate(classes):
            for i in range(n):
                cid = f"{name}_{split}_{c}_{i}"
                rel = f"videos/{cid}.mp4"
                write_clip(d / rel, ["red", "green", "blue"].index(c), rng)
                entries.append(dict(clip_id=cid, path=rel, label=ci, label_name=c, split=split, domain=name,
                                    frames=12, fps=12, width=32, height=32, size=(d / rel).stat().st_size,
                                    sha256="x", status="ok", reason=None))
    # one clip the manifest quarantines: it must be counted, never used
    entries.append(dict(clip_id=f"{name}_bad", path="videos/bad.mp4", label=0, label_name=classes[0], split="test",
                        domain=name, frames=0, fps=0, width=0, height=0, size=0, sha256="", status="quarantined",
                        reason="zero bytes"))
    manifest.write(d, entries)
    # the clip store the smoke profile's steps read (data.store.enabled), as `motionmvm data store` writes it
    store.build(d, root / "cache" / "smoke" / name / "clips", log=lambda _: None)
