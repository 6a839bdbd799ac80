"""Evaluation of a DEMVM (Video Swin) encoder end to end: a tiny demvm pretraining run on the
smoke profile (KLT cache and token targets written in the documented formats) writes encoder.pt
with its input geometry; fine-tuning (I3D head), linear probe, few-shot and domain adaptation
then run on it through the CLI."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from motionmvm import cli, config
from motionmvm.eval import encoder as enc_mod
from motionmvm.train.loop import pretrain
from eval_data import make_dataset
from pretrain_helpers import write_demvm_inputs

ROOT = Path(__file__).resolve().parents[1]
FRAMES = 12  # eval_data clips: 12 frames of 32 x 32


@pytest.fixture(scope="module")
def demvm_project(tmp_path_factory):
    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("eval_demvm")
    shutil.copy(ROOT / "params.yaml", tmp / "params.yaml")
    shutil.copytree(ROOT / "workflow" / "schemas", tmp / "workflow" / "schemas")
    make_dataset(tmp, "synth", ["red", "green", "blue"], {"train": 4, "test": 2}, 0)
    make_dataset(tmp, "synth_b", ["red", "blue"], {"train": 1, "test": 2}, 1)
    cfg = config.load(tmp / "params.yaml", "smoke")
    cfg["paths"] = {k: str(tmp / v) for k, v in cfg["paths"].items()}
    train_ids = [f"synth_train_{c}_{i}" for c in ("red", "green", "blue") for i in range(4)]
    write_demvm_inputs(tmp / "cache" / "smoke" / "synth", train_ids, frames=FRAMES, height=32, width=32,
                       size=cfg["tokenizer"]["size"], n_codes=cfg["tokenizer"]["n_codes"],
                       rng=np.random.default_rng(0))
    pretrain(cfg, "demvm", "synth", 0, progress=False)
    return tmp, cfg


def test_demvm_encoder_checkpoint_carries_its_input_geometry(demvm_project):
    tmp, cfg = demvm_project
    ckpt = torch.load(tmp / "runs/smoke/pretrain/demvm/seed0/encoder.pt", weights_only=True)
    frames, size = cfg["pretrain"]["frames"], cfg["tokenizer"]["size"]
    assert ckpt["model"] == cfg["model"]["swin"] and ckpt["method"] == "demvm"
    assert ckpt["input"] == {"frames": frames, "size": size, "patch": [2, 4, 4],
                             "grid": [frames // 2, size // 4, size // 4]}
    encoder = enc_mod.build_encoder(ckpt, pretrained=True, seed=0)
    assert enc_mod.input_shape(encoder) == (frames, size)


def test_every_protocol_evaluates_a_demvm_encoder(demvm_project, monkeypatch):
    tmp, cfg = demvm_project
    monkeypatch.chdir(tmp)
    shapes = []
    real_shape = enc_mod.input_shape
    monkeypatch.setattr(enc_mod, "input_shape", lambda e: shapes.append(real_shape(e)) or shapes[-1])

    def run(*argv):
        assert cli.main([*argv, "--profile", "smoke", "--method", "demvm", "--seed", "0"]) == 0

    run("finetune", "--dataset", "synth")
    ft = json.loads((tmp / "runs/smoke/eval/finetune/demvm/synth/seed0/metrics.json").read_text())
    assert ft["clips_evaluated"] == 6 and ft["encoder_method"] == "demvm"
    run("linear-probe", "--dataset", "synth")
    lp = json.loads((tmp / "runs/smoke/eval/linear_probe/demvm/synth/seed0/metrics.json").read_text())
    assert lp["clips_evaluated"] == 6
    run("fewshot", "--dataset", "synth", "--draws", "2")
    fs = json.loads((tmp / "runs/smoke/eval/fewshot/demvm/synth/seed0/metrics.json").read_text())
    assert len(fs["top1_per_draw"]) == 2
    run("domain-adapt")
    da = json.loads((tmp / "runs/smoke/eval/domain_adapt/demvm/synth-to-synth_b/seed0/metrics.json").read_text())
    assert da["eval_classes"] == ["red", "blue"] and da["clips_evaluated"] == 4
    # every protocol fed clips of the pretraining geometry (4 frames of the tokenizer's 32 px)
    assert shapes and set(shapes) == {(cfg["pretrain"]["frames"], cfg["tokenizer"]["size"])}


def test_the_swin_classifier_uses_the_i3d_head(demvm_project):
    tmp, _ = demvm_project
    ckpt = enc_mod.read_checkpoint(tmp / "runs/smoke/pretrain/demvm/seed0/encoder.pt")
    encoder = enc_mod.build_encoder(ckpt, pretrained=True, seed=0)
    model = enc_mod.VideoClassifier(encoder, enc_mod.embed_dim(encoder), 3, 0.0, enc_mod.head_kind(ckpt["model"]))
    assert type(model.head).__name__ == "I3DHead"
    frames, size = enc_mod.input_shape(encoder)
    assert model(torch.zeros(2, 3, frames, size, size)).shape == (2, 3)


def test_a_checkpoint_whose_geometry_does_not_fit_its_encoder_is_refused(demvm_project):
    tmp, _ = demvm_project
    ckpt = enc_mod.read_checkpoint(tmp / "runs/smoke/pretrain/demvm/seed0/encoder.pt")
    bad = {**ckpt, "input": {**ckpt["input"], "patch": [2, 8, 8]}}
    with pytest.raises(ValueError, match="checkpoint says"):
        enc_mod.build_encoder(bad, pretrained=True, seed=0)
    with pytest.raises(ValueError, match="lacks"):
        enc_mod.build_encoder({**ckpt, "input": {"frames": 4}}, pretrained=True, seed=0)
