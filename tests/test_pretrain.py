"""The pretraining command end to end: outputs, exact resume after SIGKILL, SIGTERM checkpoints."""
import csv
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from pretrain_helpers import REPO, write_params, write_videos

# 8 clips, batch 2 -> 4 steps per epoch; 3 epochs = 12 optimizer steps, a checkpoint every 2.
# Drop path uses torch's global RNG, so an unrestored RNG state would change the resumed weights.
SETTINGS = {"pretrain": {"epochs": 3, "ckpt_every": 2, "log_every": 1, "threads": 1},
            "model": {"drop_path": 0.1}}


def _env():
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), OMP_NUM_THREADS="1")
    env.pop("WORLD_SIZE", None)
    return env


def _cmd(params, method="videomae", run_dir=None):
    cmd = [sys.executable, "-m", "motionmvm.cli", "pretrain", "--params", str(params),
           "--method", method, "--seed", "3"]
    return cmd + (["--run-dir", str(run_dir)] if run_dir else [])


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pretrain")
    params = write_params(tmp, "smoke", **SETTINGS)
    write_videos(tmp / "data" / "smoke" / "synth", n=8)
    return tmp, params


@pytest.fixture(scope="module")
def reference(project):
    """One uninterrupted run."""
    tmp, params = project
    subprocess.run(_cmd(params), check=True, env=_env(), cwd=tmp, capture_output=True)
    return tmp / "runs" / "smoke" / "pretrain" / "videomae" / "seed3"


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_run_writes_every_output(reference):
    for name in ("checkpoint.pt", "encoder.pt", "log.csv", "metrics.json", "loss.png"):
        assert (reference / name).is_file(), name
    assert any((reference / "tb").iterdir())
    assert [int(r["step"]) for r in _rows(reference / "log.csv")] == list(range(1, 13))
    state = torch.load(reference / "checkpoint.pt", weights_only=True)
    assert state["step"] == 12 and set(state) >= {"model", "optimizer", "scheduler", "scaler", "rng"}
    enc = torch.load(reference / "encoder.pt", weights_only=True)
    assert enc["model"] == "vit_micro" and enc["config"]["patch"] == 8
    f, size = enc["config"]["num_frames"], enc["config"]["img_size"]
    assert enc["input"] == {"frames": f, "size": size, "patch": [2, 8, 8], "grid": [f // 2, size // 8, size // 8]}
    import json

    m = json.loads((reference / "metrics.json").read_text())
    assert m["steps"] == 12 and m["provenance"]["dataset"]["manifest_hash"]


def _kill_then_resume(tmp, params, reference):
    run = tmp / "killed"
    kill_after = random.Random().randint(3, 9)
    proc = subprocess.Popen(_cmd(params, run_dir=run), env=_env(), cwd=tmp,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if (run / "log.partial.csv").exists() and len(_rows(run / "log.partial.csv")) >= kill_after:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, f"run ended before the kill at step {kill_after}"
    assert not (run / "encoder.pt").exists()
    subprocess.run(_cmd(params, run_dir=run), check=True, env=_env(), cwd=tmp, capture_output=True)
    a = torch.load(reference / "encoder.pt", weights_only=True)["state_dict"]
    b = torch.load(run / "encoder.pt", weights_only=True)["state_dict"]
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs after a kill at step {kill_after}"
    ca = torch.load(reference / "checkpoint.pt", weights_only=True)
    cb = torch.load(run / "checkpoint.pt", weights_only=True)
    for k in ca["model"]:
        assert torch.equal(ca["model"][k], cb["model"][k])
    assert [r["loss"] for r in _rows(run / "log.csv")] == [r["loss"] for r in _rows(reference / "log.csv")]


def test_sigkill_at_a_random_step_then_resume_is_bitwise_identical(project, reference):
    _kill_then_resume(*project, reference)


def test_repeated_sampling_accounting_and_exact_resume(tmp_path_factory):
    """k = 2 clips per decoded video, batch 4 clips = 2 videos per step: an epoch (every video once,
    as 2 clips) is 4 steps; 3 epochs = 12 steps. A kill and resume gives the same weights."""
    import json

    tmp = tmp_path_factory.mktemp("repeated")
    params = write_params(tmp, "smoke", pretrain={**SETTINGS["pretrain"], "batch_size": 4, "repeated_sampling": 2},
                          model=SETTINGS["model"])
    write_videos(tmp / "data" / "smoke" / "synth", n=8)
    subprocess.run(_cmd(params), check=True, env=_env(), cwd=tmp, capture_output=True)
    reference = tmp / "runs" / "smoke" / "pretrain" / "videomae" / "seed3"
    m = json.loads((reference / "metrics.json").read_text())
    assert (m["steps"], m["steps_per_epoch"], m["global_batch"], m["repeated_sampling"]) == (12, 4, 4, 2)
    _kill_then_resume(tmp, params, reference)


def test_sigterm_writes_a_checkpoint_and_exits(project):
    tmp, params = project
    run = tmp / "terminated"
    proc = subprocess.Popen(_cmd(params, run_dir=run), env=_env(), cwd=tmp,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while proc.poll() is None and not ((run / "log.partial.csv").exists() and len(_rows(run / "log.partial.csv")) >= 1):
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the run finished before SIGTERM arrived")
    assert proc.returncode == 3, err
    assert b"stopped by signal" in err
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    assert 1 <= state["step"] < 12 and state["step"] == len(_rows(run / "log.partial.csv"))


def test_resume_refuses_a_checkpoint_of_other_settings(project, reference, tmp_path):
    import shutil

    from motionmvm import config
    from motionmvm.train.loop import pretrain

    tmp, _ = project
    cfg = config.load(write_params(tmp_path, "smoke", model=SETTINGS["model"], pretrain={"epochs": 4, "threads": 1}))
    cfg["paths"]["data"], cfg["paths"]["cache"] = str(tmp / "data"), str(tmp / "cache")
    shutil.copy(reference / "checkpoint.pt", tmp_path / "checkpoint.pt")
    with pytest.raises(RuntimeError, match="was written with params_hash"):
        pretrain(cfg, "videomae", "synth", 3, run_dir=tmp_path)


def test_batch_not_divisible_by_repeated_sampling_is_refused(tmp_path, capsys):
    from motionmvm.cli import main

    params = write_params(tmp_path, "smoke", pretrain={"batch_size": 3, "repeated_sampling": 2})
    assert main(["pretrain", "--params", str(params), "--method", "videomae", "--seed", "0"]) == 2
    assert "not a multiple of pretrain.repeated_sampling" in capsys.readouterr().err


def test_unknown_method_is_refused(project, capsys):
    from motionmvm.cli import main

    _, params = project
    assert main(["pretrain", "--params", str(params), "--method", "nope", "--seed", "0"]) == 2
    assert "registered methods" in capsys.readouterr().err
