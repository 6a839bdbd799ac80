"""Manifest step: each corrupt kind is quarantined with its reason; too many fail the step."""
import shutil

import av
import numpy as np
import pytest

from motionmvm import config
from motionmvm.data import build_manifest, manifest, synth


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    cfg = config.load("params.yaml", "smoke")["data"]
    cfg["synth"] = dict(cfg["synth"], num_classes=2, train_per_class=3, test_per_class=3)
    out = tmp_path_factory.mktemp("m") / "synth"
    synth.generate("synth", cfg, out)
    return out


def _audio_only(path):
    with av.open(str(path), "w", format="mp4") as c:
        s = c.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 8000
        for p in s.encode(frame):
            c.mux(p)
        for p in s.encode():
            c.mux(p)


def test_each_corrupt_kind_is_quarantined_with_reason(clean, tmp_path):
    d = tmp_path / "synth"
    shutil.copytree(clean, d)
    rels = [l.split()[0] for l in (d / "trainlist01.txt").read_text().splitlines()]
    (d / rels[0]).write_bytes(b"")
    data = (d / rels[1]).read_bytes()
    (d / rels[1]).write_bytes(data[: len(data) // 2])
    (d / rels[2]).write_bytes(b"no video here" * 100)
    _audio_only(d / rels[3])
    synth.encode_h264(np.zeros((10, 32, 32, 3), np.uint8), d / rels[4], 25, 23)  # 10 < 16 frames
    with pytest.raises(build_manifest.QuarantineError, match="empty file"):
        build_manifest.build(d, "a", min_frames=16, max_fraction=0.2)
    s = build_manifest.build(d, "a", min_frames=16, max_fraction=1.0)
    reasons = {q["path"]: q["reason"] for q in s["quarantined"]}
    assert reasons[rels[0]].startswith("empty file")
    assert reasons[rels[1]].split(":")[0] in ("truncated", "not decodable")
    assert reasons[rels[2]].startswith("not decodable")
    assert reasons[rels[3]].startswith("no video stream")
    assert reasons[rels[4]].startswith("too few frames")
    ok = manifest.load(d)
    assert len(ok) == 12 - 5 and all(e["path"] not in reasons for e in ok)


def test_clean_dataset_all_ok_with_hash(clean):
    s = build_manifest.build(clean, "a", min_frames=16, max_fraction=0.0, workers=2)
    assert s["ok"] == 12 and not s["quarantined"] and len(s["hash"]) == 64
