"""The evaluation CLI end to end on real H.264 files (PyAV-written, decoded by the project's reader),
with the test-double encoder standing in for the models area's ViT (tests only)."""
import json
import shutil
from pathlib import Path

import pytest
import torch

from motionmvm import cli
from motionmvm.eval import encoder as enc_mod
from motionmvm.eval.metrics import recompute_metrics
from eval_data import make_dataset
from eval_doubles import TinyEncoder, build_tiny_encoder

ROOT = Path(__file__).resolve().parents[1]


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

    monkeypatch.setattr(enc_mod, "build_encoder", build_tiny_encoder)
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


def test_frozen_runs_every_frozen_protocol_in_one_process(project):
    """`motionmvm frozen`: the linear probe on each eval.linear_probe.datasets and few-shot, with
    the same outputs as the per-protocol steps."""
    import yaml

    params = yaml.safe_load((project / "params.yaml").read_text())
    params["profiles"]["smoke"]["eval"]["linear_probe"]["datasets"] = ["synth", "synth_b"]
    params["profiles"]["smoke"]["eval"]["fewshot"]["datasets"] = ["synth"]
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    run("frozen", "--method", "videomae", "--seed", "0")
    for d in ("linear_probe/videomae/synth", "linear_probe/videomae/synth_b", "fewshot/videomae/synth"):
        m = json.loads((project / "runs/smoke/eval" / d / "seed0/metrics.json").read_text())
        assert m["top1"] == recompute_metrics(project / "runs/smoke/eval" / d / "seed0/predictions.csv")["top1"]
    with pytest.raises(SystemExit, match="drop --out"):
        cli.main(["frozen", "--profile", "smoke", "--method", "videomae", "--seed", "0", "--out", "x"])


def test_single_frame_control_runs_and_saves_its_encoder(project):
    run("finetune", "--method", "scratch_1frame", "--dataset", "synth", "--seed", "0")
    out = project / "runs/smoke/eval/finetune/scratch_1frame/synth/seed0"
    assert (out / "encoder.pt").exists()
    run("linear-probe", "--method", "scratch_1frame", "--dataset", "synth", "--seed", "0")
    m = json.loads((project / "runs/smoke/eval/linear_probe/scratch_1frame/synth/seed0/metrics.json").read_text())
    assert m["provenance"]["checkpoint"]["path"].endswith("finetune/scratch_1frame/synth/seed0/encoder.pt")


def test_evaluate_runs_an_encoders_finetuning_and_frozen_protocols_in_one_process(project):
    """`motionmvm evaluate` (eval.process_per_encoder): the per-protocol steps' run directories,
    with the same numbers as running those steps one by one; a supervised reference's frozen runs
    read the encoder it has just trained."""
    import yaml

    params = yaml.safe_load((project / "params.yaml").read_text())
    params["profiles"]["smoke"]["eval"]["linear_probe"]["datasets"] = ["synth"]
    params["profiles"]["smoke"]["eval"]["fewshot"]["datasets"] = ["synth"]
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    ev = project / "runs/smoke/eval"
    run("evaluate", "--method", "videomae", "--seed", "0")
    runs = ("finetune/videomae/synth", "linear_probe/videomae/synth", "fewshot/videomae/synth")
    merged = {d: json.loads((ev / d / "seed0/metrics.json").read_text())["top1"] for d in runs}
    shutil.rmtree(ev)
    shutil.rmtree(project / "cache/smoke/synth/features")
    run("finetune", "--method", "videomae", "--dataset", "synth", "--seed", "0")
    run("frozen", "--method", "videomae", "--seed", "0")
    assert merged == {d: json.loads((ev / d / "seed0/metrics.json").read_text())["top1"] for d in runs}

    run("evaluate", "--method", "scratch", "--seed", "0")
    assert (ev / "finetune/scratch/synth/seed0/encoder.pt").exists()
    m = json.loads((ev / "linear_probe/scratch/synth/seed0/metrics.json").read_text())
    assert m["provenance"]["checkpoint"]["path"].endswith("finetune/scratch/synth/seed0/encoder.pt")
    with pytest.raises(SystemExit, match="drop --out / --encoder"):
        cli.main(["evaluate", "--profile", "smoke", "--method", "videomae", "--seed", "0", "--encoder", "x.pt"])
