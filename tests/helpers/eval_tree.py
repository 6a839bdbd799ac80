"""A realistic results tree for audit tests: real H.264 datasets with manifests and clip stores
(`motionmvm data store`, as data.store.enabled asks in the smoke profile), the project's own
evaluation commands run through `motionmvm.cli` for every seed of the experiment (linear-probe for
two methods, fewshot and domain-adapt for videomae, aggregate), with the tiny test-double encoder standing in
for the pretrained ViT (tests only), and a dvc.lock recording every output's md5.

Some clips carry the colour of the next class: the probe gets such test clips wrong (something for
a forger to hide), and few-shot draws that pick such a train clip as a shot score worse (draws
worth cherry-picking). Its 18 usable test clips exceed the smoke
profile's linear-probe cap of 16, so the seeded subsample rule is exercised too.
"""
from __future__ import annotations

import copy
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from motionmvm import cli, config
from motionmvm.data import manifest
from motionmvm.eval import encoder as enc_mod
from motionmvm.io import sha256_file
from tests.helpers.results_tree import _md5

REPO = Path(__file__).resolve().parents[2]
METHODS = ("videomae", "mgm")
SEEDS = (0, 1, 2)
COLOURS = ["red", "green", "blue"]


def _dataset(root: Path, name: str, classes: list[str], per_split: dict, misleading: dict, seed: int) -> None:
    """Clips coloured by class; the first `misleading[split]` clips of each class carry the next
    class's colour. One extra test clip is quarantined by the manifest."""
    from eval_data import write_clip

    d = root / "data" / "smoke" / name
    rng = np.random.default_rng(seed)
    d.mkdir(parents=True)
    (d / "classInd.txt").write_text("".join(f"{i + 1} {c}\n" for i, c in enumerate(classes)))
    entries = []
    for split, n in per_split.items():
        for ci, c in enumerate(classes):
            for i in range(n):
                cid, colour = f"{name}_{split}_{c}_{i}", COLOURS.index(c)
                if i < misleading.get(split, 0):
                    colour = (colour + 1) % 3
                rel = f"videos/{cid}.mp4"
                write_clip(d / rel, colour, rng)
                entries.append(dict(clip_id=cid, path=rel, label=ci, label_name=c, split=split, domain=name,
                                    frames=12, fps=12, width=32, height=32, size=(d / rel).stat().st_size,
                                    sha256=sha256_file(d / rel), status="ok", reason=""))
    entries.append(dict(clip_id=f"{name}_bad", path="videos/bad.mp4", label=0, label_name=classes[0], split="test",
                        domain=name, frames=0, fps=0, width=0, height=0, size=0, sha256="", status="quarantined",
                        reason="zero bytes"))
    manifest.write(d, entries)


def outputs(root: Path) -> list[str]:
    """Every file a DVC stage of this tree outputs."""
    files = [p for p in root.glob("runs/smoke/eval/*/*/*/seed*/*") if p.name in ("metrics.json", "predictions.csv")]
    files += list(root.glob("runs/smoke/pretrain/*/seed*/encoder.pt")) + list(root.glob("data/smoke/*/manifest.json"))
    files += [root / "results/smoke/summary.json", root / "results/smoke/table.md"]
    return sorted(str(p.relative_to(root)) for p in files)


def write_lock(root: Path) -> None:
    lock = {"schema": "2.0", "stages": {"all": {"cmd": "motionmvm ...", "outs": [
        {"path": p, "hash": "md5", "md5": _md5(root / p)} for p in outputs(root)]}}}
    (root / "dvc.lock").write_text(yaml.safe_dump(lock, sort_keys=False))


def run(*argv) -> None:
    assert cli.main(list(argv) + ["--profile", "smoke"]) == 0, argv


def build(root: Path) -> None:
    """The tree under `root` (made the working directory for the duration)."""
    torch.set_num_threads(1)
    shutil.copy(REPO / "params.yaml", root / "params.yaml")
    shutil.copytree(REPO / "workflow" / "schemas", root / "workflow" / "schemas")
    mp = pytest.MonkeyPatch()
    mp.chdir(root)
    try:
        _dataset(root, "synth", COLOURS, {"train": 6, "test": 6}, {"test": 2}, seed=0)
        _dataset(root, "synth_mimed", COLOURS, {"train": 4, "test": 3}, {"train": 1, "test": 1}, seed=1)
        _dataset(root, "synth_b", ["red", "blue"], {"train": 2, "test": 3}, {"test": 1}, seed=2)
        for name in ("synth", "synth_mimed", "synth_b"):  # the clip stores the smoke profile's steps read
            run("data", "store", "--dataset", name)
        from eval_doubles import TinyEncoder, build_tiny_encoder

        for i, method in enumerate(METHODS):
            for seed in SEEDS:
                torch.manual_seed(100 * i + seed)
                path = root / "runs" / "smoke" / "pretrain" / method / f"seed{seed}" / "encoder.pt"
                path.parent.mkdir(parents=True)
                torch.save({"model": "tiny_double", "config": {}, "state_dict": TinyEncoder(frames=4, size=16).state_dict()}, path)

        mp.setattr(enc_mod, "build_encoder", build_tiny_encoder)
        loaded: dict = {}  # every command reads the same params: validate them once (schema parsing is slow)
        load = config.load

        def load_once(path="params.yaml", profile=None, overrides=None, **kw):
            key = (str(path), profile, tuple(sorted(kw.items())))
            if overrides is not None:
                return load(path, profile, overrides, **kw)
            if key not in loaded:
                loaded[key] = load(path, profile, **kw)
            return copy.deepcopy(loaded[key])

        mp.setattr(config, "load", load_once)
        for seed in SEEDS:
            for method in METHODS:
                run("linear-probe", "--method", method, "--dataset", "synth", "--seed", str(seed))
            run("fewshot", "--method", "videomae", "--seed", str(seed))
            run("domain-adapt", "--method", "videomae", "--seed", str(seed))
        run("aggregate")
        write_lock(root)
    finally:
        mp.undo()
