"""Pre-resize: the manifest describes the resized copies (what every later step reads), failures are
quarantined and listed, the source's hash stays in the chain, originals are kept or not by setting."""
import shutil

import numpy as np

from pretrain_helpers import write_videos

from motionmvm.data import build_manifest, clips, manifest, resize
from motionmvm.data.video import read_frames

SETTINGS = {"short_side": 32, "crf": 23, "gop": 250, "keep_original": True}


def _dataset(tmp_path, n=3):
    ds = tmp_path / "ds"
    write_videos(ds, n=n, frames=10, size=(48, 64), store=False)  # 64 x 48 sources
    (ds / "classInd.txt").write_text("1 c0\n2 c1\n")
    (ds / "trainlist01.txt").write_text("".join(f"videos/clip{i}.mp4 {i % 2 + 1}\n" for i in range(n)))
    (ds / "testlist01.txt").write_text("")
    return ds


def test_resize_feeds_the_manifest_and_every_reader(tmp_path):
    ds = _dataset(tmp_path)
    (ds / "videos" / "clip2.mp4").write_bytes(b"broken" * 100)
    s = resize.run(ds, SETTINGS, log=lambda _: None)
    assert [r["path"] for r in s["failed"]] == ["videos/clip2.mp4"]
    summary = build_manifest.build(ds, "a", min_frames=4, max_fraction=0.5, short_side=32)
    assert summary["resize"] == {"short_side": 32, "hash": s["hash"]}
    entries = {e["clip_id"]: e for e in manifest.load(ds, status=None)}
    assert entries["clip2"]["status"] == "quarantined" and entries["clip2"]["reason"].startswith("resize: ")
    ok = entries["clip0"]
    assert ok["path"] == "videos_resized/clip0.mp4" and (ok["height"], ok["width"]) == (32, 42)
    assert ok["source_sha256"] and ok["source_sha256"] != ok["sha256"] and ok["frames"] == 10
    # the clip path (and the motion caches, which open the manifest's path) read the resized file
    v = clips.VideoSet(ds, "train")
    assert v.read(0).shape == (10, 32, 42, 3)
    assert np.array_equal(v.read(0), read_frames(ds / "videos_resized" / "clip0.mp4", backend=clips.DECODER))
    # a rerun with the same sources re-encodes nothing; a changed source changes the manifest hash
    assert resize.run(ds, SETTINGS, log=lambda _: None)["hash"] == s["hash"]
    write_videos(tmp_path / "other", n=3, frames=10, size=(48, 64), seed=4, store=False)
    shutil.copy(tmp_path / "other" / "videos" / "clip1.mp4", ds / "videos" / "clip1.mp4")
    s2 = resize.run(ds, SETTINGS, log=lambda _: None)
    assert s2["hash"] != s["hash"]
    assert build_manifest.build(ds, "a", min_frames=4, max_fraction=0.5, short_side=32)["hash"] != summary["hash"]


def test_off_and_originals_deleted(tmp_path):
    ds = _dataset(tmp_path)
    off = resize.run(ds, {**SETTINGS, "short_side": 0}, log=lambda _: None)
    assert off["videos"] == [] and resize.lookup(ds) is None
    build_manifest.build(ds, "a", min_frames=4, max_fraction=0.0)
    assert manifest.load(ds)[0]["path"] == "videos/clip0.mp4"
    # sources already at or below the short side are used as they are (not re-encoded)
    big = resize.run(ds, {**SETTINGS, "short_side": 48}, log=lambda _: None)
    assert [r["out"] for r in big["videos"]] == [r["path"] for r in big["videos"]]
    build_manifest.build(ds, "a", min_frames=4, max_fraction=0.0, short_side=48)
    assert manifest.load(ds)[0]["path"] == "videos/clip0.mp4" and not list((ds / "videos_resized").glob("*.mp4"))
    s = resize.run(ds, {**SETTINGS, "keep_original": False}, log=lambda _: None)
    assert not list((ds / "videos").glob("*.mp4")) and not s["failed"]
    # the rerun keeps the copies made from the now-deleted sources
    assert resize.run(ds, {**SETTINGS, "keep_original": False}, log=lambda _: None)["hash"] == s["hash"]
    try:
        build_manifest.build(ds, "a", min_frames=4, max_fraction=0.0, short_side=64)
    except ValueError as exc:
        assert "run `motionmvm data resize" in str(exc)
    else:
        raise AssertionError("a manifest at another short side than resize.json must be refused")
