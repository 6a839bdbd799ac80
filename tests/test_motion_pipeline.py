"""`motionmvm motion <kind>`: process pool, atomic entries, skip/redo by settings hash, corrupt and
quarantined videos listed, a crashing worker does not lose the others' entries."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import yaml
from test_motion_fixtures import FRAMES, build_dataset, motion_clips  # noqa: F401

from motionmvm import config
from motionmvm.motion import cache, extract

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def mcfg():
    return config.load(REPO / "params.yaml", "smoke")["motion"]


@pytest.fixture()
def dataset(tmp_path, motion_clips):
    return build_dataset(tmp_path / "data", motion_clips)


def crash_on_pan(kind, clip_id, *args):
    """Module-level (picklable) worker that dies hard on one clip, like a segfault would."""
    if clip_id == "pan":
        os._exit(3)
    return extract.process_clip(kind, clip_id, *args)


def test_mv_run_writes_entries_lists_failures_and_rereads(dataset, tmp_path, mcfg):
    root = tmp_path / "cache" / "motion"
    summary = extract.run("mv", dataset, root, mcfg, workers=2, log=lambda *_: None)
    assert summary["computed"] == 3 and summary["skipped"] == 0 and summary["failed"] == 2
    assert summary["errors"] == 0
    failed = {f["clip_id"]: f["reason"] for f in json.loads((root / "mv" / "failed.json").read_text())}
    assert set(failed) == {"corrupt", "quarantined"} and failed["quarantined"].startswith("quarantined")
    s = cache.settings(root, "mv")
    assert s["settings_hash"] == cache.settings_hash(s) and "av" in s["libraries"]
    entry = cache.read(root, "mv", "translate")
    assert entry["field"].shape == (FRAMES, 32, 40, 2) and entry["missing"].dtype == bool
    assert str(entry["settings_hash"]) == s["settings_hash"]
    with pytest.raises(FileNotFoundError, match="corrupt"):
        cache.read(root, "mv", "corrupt")
    # Rerun: everything up to date.
    again = extract.run("mv", dataset, root, mcfg, workers=2, log=lambda *_: None)
    assert again["computed"] == 0 and again["skipped"] == 3


def test_rerun_redoes_changed_settings_and_stale_entries(dataset, tmp_path, mcfg):
    root = tmp_path / "cache" / "motion"
    first = extract.run("klt", dataset, root, mcfg, workers=2, log=lambda *_: None)
    assert first["computed"] == 3
    # A stale entry (different hash) is redone, the others are skipped.
    path = cache.entry_path(root, "klt", "pan")
    arrays = {k: v for k, v in np.load(path).items() if k not in cache.META_KEYS}
    cache.write_entry(path, arrays, "0" * 64, str(np.load(path)["video_sha256"]))
    second = extract.run("klt", dataset, root, mcfg, workers=2, log=lambda *_: None)
    assert (second["computed"], second["skipped"]) == (1, 2)
    # Changed settings: everything is redone, and the new hash is stored.
    changed = dict(mcfg, klt=dict(mcfg["klt"], threshold=2.0))
    third = extract.run("klt", dataset, root, changed, workers=2, log=lambda *_: None)
    assert (third["computed"], third["skipped"]) == (3, 0)
    assert third["settings_hash"] != first["settings_hash"]
    assert str(cache.read(root, "klt", "translate")["settings_hash"]) == third["settings_hash"]
    assert cache.read(root, "klt", "translate")["motion_map"].shape == (FRAMES - 1, 16, 20)


def test_worker_crash_keeps_other_entries(dataset, tmp_path, mcfg):
    root = tmp_path / "cache" / "motion"
    summary = extract.run("mv", dataset, root, mcfg, workers=2, fn=crash_on_pan, log=lambda *_: None)
    assert summary["errors"] == 1 and summary["computed"] == 2
    assert cache.entry_path(root, "mv", "translate").exists()
    assert cache.entry_path(root, "mv", "translate_copy").exists()
    assert not cache.entry_path(root, "mv", "pan").exists()
    failed = {f["clip_id"]: f["reason"] for f in json.loads((root / "mv" / "failed.json").read_text())}
    assert "crashed" in failed["pan"] and "corrupt" in failed
    # Only the missing entry is computed on the next (healthy) run.
    again = extract.run("mv", dataset, root, mcfg, workers=2, log=lambda *_: None)
    assert (again["computed"], again["skipped"]) == (1, 2)


def test_cli_flow_and_traj_write_the_documented_layout(tmp_path, motion_clips, monkeypatch):
    from motionmvm.cli import main

    build_dataset(tmp_path / "data" / "smoke", motion_clips)
    monkeypatch.chdir(tmp_path)
    for kind in ("flow", "traj"):
        rc = main(["motion", kind, "--dataset", "motiontest", "--params", str(REPO / "params.yaml"),
                   "--profile", "smoke", "--workers", "1"])
        assert rc == 0
        out = tmp_path / "cache" / "smoke" / "motiontest" / "motion" / kind
        assert {"settings.json", "summary.json", "failed.json", "translate.npz"} <= {p.name for p in out.iterdir()}
    root = tmp_path / "cache" / "smoke" / "motiontest" / "motion"
    raw = cache.read(root, "flow", "translate", raw=True)
    assert raw["flow"].dtype == np.int16 and int(raw["scale"]) == 64
    fl = cache.read(root, "flow", "translate")["flow"]
    assert fl.dtype == np.float32 and fl.shape == (FRAMES - 1, 128, 160, 2)
    assert cache.settings(root, "flow")["quantization"] == {"flow": "int16", "flow_backward": "int16", "scale": 64}
    tr = cache.read(root, "traj", "translate")
    # smoke tracks at its clip geometry: 128 x 160 frames resized to the short side 32, patch 8
    assert tr["disp"].shape == (FRAMES - 6, 8, 10, 6, 2)
    assert tuple(tr["source_hw"]) == (128, 160) and tuple(tr["tracked_hw"]) == (32, 40)
    assert cache.settings(root, "traj")["params"]["short_side"] == 32
    assert cache.settings(root, "traj")["params"]["bound"] == 20


def test_params_schema_refuses_bad_motion_values(tmp_path):
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["motion"]["flow"]["algorithm"] = "lucas"
    bad = tmp_path / "params.yaml"  # checked against the project's schema (config.schema_dir)
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(config.ConfigError, match="motion.flow.algorithm"):
        config.load(bad, "smoke")


def test_unavailable_flow_algorithm_fails_before_any_work(dataset, tmp_path, mcfg, monkeypatch, capsys):
    from motionmvm.motion.flow import FlowUnavailable

    root = tmp_path / "cache" / "motion"
    no_weights = dict(mcfg, flow=dict(mcfg["flow"], algorithm="raft_small",
                                      raft={"weights": str(tmp_path / "missing.pt")}))
    with pytest.raises(FlowUnavailable, match="not found"):
        extract.run("traj", dataset, root, no_weights, workers=1, log=lambda *_: None)
    assert not (root / "traj").exists()
