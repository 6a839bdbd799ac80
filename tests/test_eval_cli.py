"""The evaluation CLI end to end on real H.264 files (PyAV-written, decoded by the project's reader),
with the test-double encoder standing in for the models area's ViT (tests only)."""
import json
import shutil
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from motionmvm import cli
from motionmvm.data import manifest
from motionmvm.eval import encoder as enc_mod
from motionmvm.eval.metrics import recompute_metrics
from eval_doubles import TinyEncoder

ROOT = Path(__file__).resolve().parents[1]


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


@pytest.fixture
def project(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    shutil.copytree(ROOT / "workflow" / "schemas", tmp_path / "workflow" / "schemas")
    monkeypatch.chdir(tmp_path)
    make_dataset(tmp_path, "synth", ["red", "green", "blue"], {"train": 6, "test": 3}, 0)
    make_dataset(tmp_path, "synth_b", ["red", "blue"], {"train": 2, "test": 3}, 1)
    torch.manual_seed(0)
    enc = TinyEncoder(frames=4, size=16)
    path = tmp_path / "runs" / "smoke" / "pretrain" / "videomae" / "seed0" / "encoder.pt"
    path.parent.mkdir(parents=True)
    torch.save({"model": "tiny_double", "config": {}, "state_dict": enc.state_dict()}, path)

    def build(ckpt, *, pretrained, seed, **overrides):
        torch.manual_seed(seed)
        e = TinyEncoder(frames=4, size=16)
        if pretrained:
            e.load_state_dict(ckpt["state_dict"])
        return e

    monkeypatch.setattr(enc_mod, "build_encoder", build)
    return tmp_path


def run(*argv):
    assert cli.main(list(argv) + ["--profile", "smoke"]) == 0


def test_cli_protocols_and_aggregate(project):
    run("linear-probe", "--method", "videomae", "--dataset", "synth", "--seed", "0")
    lp = project / "runs/smoke/eval/linear_probe/videomae/synth/seed0"
    m = json.loads((lp / "metrics.json").read_text())
    assert m["clips_evaluated"] == 9 and m["clips_quarantined"] == 1
    assert m["quarantined"][0]["reason"] == "zero bytes"
    assert m["top1"] == recompute_metrics(lp / "predictions.csv")["top1"]
    assert m["top1"] >= 0.8  # colour is linearly decodable from the features
    assert m["provenance"]["checkpoint"]["path"].endswith("videomae/seed0/encoder.pt")
    assert (project / "cache/smoke/synth/features/videomae/seed0/train.npz").exists()

    run("finetune", "--method", "scratch", "--dataset", "synth", "--seed", "0")
    assert (project / "runs/smoke/eval/finetune/scratch/synth/seed0/encoder.pt").exists()
    run("linear-probe", "--method", "scratch", "--dataset", "synth", "--seed", "0")
    run("fewshot", "--method", "random_init", "--dataset", "synth", "--seed", "0", "--draws", "2")
    fs = json.loads((project / "runs/smoke/eval/fewshot/random_init/synth/seed0/metrics.json").read_text())
    assert fs["k"] == 2 and len(fs["top1_per_draw"]) == 2

    run("domain-adapt", "--method", "videomae", "--seed", "0")
    da = json.loads((project / "runs/smoke/eval/domain_adapt/videomae/synth-to-synth_b/seed0/metrics.json").read_text())
    assert da["eval_classes"] == ["red", "blue"] and 0 <= da["negative_transfer"] <= 1
    assert da["clips_evaluated"] == 6
    assert da["pretrain_dataset"] == "synth" and da["encoder_method"] == "videomae"

    run("aggregate")
    table = (project / "results/smoke/table.csv").read_text()
    assert "linear_probe,videomae,synth" in table and "domain_adapt,videomae,synth-to-synth_b" in table


def test_cli_refuses_unknown_method(project):
    with pytest.raises(SystemExit, match="not allowed"):
        cli.main(["linear-probe", "--profile", "smoke", "--method", "nope", "--dataset", "synth", "--seed", "0"])
