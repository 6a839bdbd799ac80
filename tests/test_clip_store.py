"""The clip store: the frames of decoding the video, its hash follows the videos, corrupt videos stay out."""
import json
import subprocess
import sys

import numpy as np
import pytest

from pretrain_helpers import REPO, write_params, write_videos

from motionmvm.data import build_manifest, clips, store
from motionmvm.data.video import read_frames


def _dataset(tmp_path, n=4):
    ds = tmp_path / "data" / "smoke" / "synth"
    write_videos(ds, n=n, frames=10, store=False)
    # rebuild the manifest from split lists so that sha256s and the quarantine are real
    (ds / "classInd.txt").write_text("1 c0\n2 c1\n")
    (ds / "trainlist01.txt").write_text("".join(f"videos/clip{i}.mp4 {i % 2 + 1}\n" for i in range(n)))
    (ds / "testlist01.txt").write_text("")
    build_manifest.build(ds, "a", min_frames=4, max_fraction=0.5)
    return ds


def test_store_frames_equal_decoding_and_its_hash_follows_the_videos(tmp_path):
    ds = _dataset(tmp_path)
    out = tmp_path / "cache" / "smoke" / "synth" / "clips"
    index = store.build(ds, out, log=lambda _: None)
    files = clips.VideoSet(ds, "train")
    stored = clips.VideoSet(ds, "train", out)
    assert len(stored) == len(files) == 4
    for i in range(4):
        assert np.array_equal(stored.read(i), read_frames(ds / files.entries[i]["path"]))
        assert np.array_equal(stored.read(i, [1, 3, 3]), files.read(i, [1, 3, 3]))
    # the same clip through the clip path, from the store or from the video
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    a = clips.sample_clips(stored, 2, num_frames=4, stride=2, size=16, rng=rng_a, repeats=2)
    b = clips.sample_clips(files, 2, num_frames=4, stride=2, size=16, rng=rng_b, repeats=2)
    assert all(np.array_equal(x["video"].numpy(), y["video"].numpy()) for x, y in zip(a, b))
    assert store.build(ds, out, log=lambda _: None)["hash"] == index["hash"]  # deterministic
    # a changed video: new manifest hash, new store hash; the old store is refused as stale
    write_videos(tmp_path / "other", n=4, frames=10, seed=9, store=False)
    (ds / "videos" / "clip1.mp4").write_bytes((tmp_path / "other" / "videos" / "clip1.mp4").read_bytes())
    build_manifest.build(ds, "a", min_frames=4, max_fraction=0.5)
    with pytest.raises(store.StoreError, match="rerun `motionmvm data store"):
        clips.VideoSet(ds, "train", out)
    assert store.build(ds, out, log=lambda _: None)["hash"] != index["hash"]


def test_a_corrupt_video_stays_quarantined_and_listed(tmp_path):
    ds = _dataset(tmp_path)
    (ds / "videos" / "clip2.mp4").write_bytes(b"not a video" * 50)
    build_manifest.build(ds, "a", min_frames=4, max_fraction=0.5)
    out = tmp_path / "cache" / "smoke" / "synth" / "clips"
    index = store.build(ds, out, log=lambda _: None)
    assert "clip2" not in index["clips"] and [q["clip_id"] for q in index["quarantined"]] == ["clip2"]
    v = clips.VideoSet(ds, "train", out)
    assert [v.clip_id(i) for i in range(len(v))] == ["clip0", "clip1", "clip3"]
    assert [q["clip_id"] for q in v.quarantined] == ["clip2"] and v.quarantined[0]["reason"]
    # a video that passes the manifest but fails to decode at store time is listed, not replaced
    idx = json.loads((out / "index.json").read_text())
    entries = [json.loads(line) for line in (ds / "manifest.jsonl").read_text().splitlines()]
    (ds / "videos" / "clip3.mp4").write_bytes(b"")
    index = store.build(ds, out, log=lambda _: None)
    assert index["manifest_hash"] == idx["manifest_hash"] and "clip3" not in index["clips"]
    assert {q["clip_id"] for q in index["quarantined"]} == {"clip2", "clip3"}
    assert any(q["reason"].startswith("decode at store") for q in index["quarantined"])
    assert len(entries) == 4


def test_store_cli_and_disabled_store(tmp_path):
    ds = _dataset(tmp_path)
    params = write_params(tmp_path, "smoke")
    env = {"PYTHONPATH": str(REPO / "src")}
    cmd = [sys.executable, "-m", "motionmvm.cli", "data", "store", "--params", str(params), "--dataset", "synth"]
    res = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    assert "4 clips stored" in res.stdout
    off = write_params(tmp_path, "smoke", data={"store": {"enabled": False}})
    res = subprocess.run(cmd[:-4] + ["--params", str(off), "--dataset", "synth"], cwd=tmp_path,
                         capture_output=True, text=True, env=env)
    assert res.returncode == 0 and "store off" in res.stdout, res.stderr
    index = json.loads((tmp_path / "cache" / "smoke" / "synth" / "clips" / "index.json").read_text())
    assert index["enabled"] is False and index["clips"] == {}
    res = subprocess.run(cmd[:-2] + ["--dataset", "nothing"], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert res.returncode == 1 and "run `motionmvm data manifest" in res.stderr and "Traceback" not in res.stderr
