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


def _lists(d, class_ind, train, test=""):
    d.mkdir(parents=True, exist_ok=True)
    (d / "classInd.txt").write_text(class_ind)
    (d / "trainlist01.txt").write_text(train)
    (d / "testlist01.txt").write_text(test)


@pytest.mark.parametrize("first", [0, 1])
def test_labels_count_from_zero_whatever_the_first_class_id(tmp_path, first):
    # `motionmvm prepare` writes 0-based ids, the embedded benchmark (like UCF101) 1-based ones.
    _lists(tmp_path, f"{first} run\n{first + 1} jump\n", f"a.mp4 {first + 1}\nb.mp4 {first}\n", f"c.mp4 {first}\n")
    items = build_manifest.read_lists(tmp_path)
    assert [(i["path"], i["label"], i["label_name"], i["split"]) for i in items] == [
        ("a.mp4", 1, "jump", "train"), ("b.mp4", 0, "run", "train"), ("c.mp4", 0, "run", "test")]


def test_a_label_missing_from_classind_is_one_line_from_the_cli(tmp_path, monkeypatch, capsys):
    from motionmvm.cli import main

    d = tmp_path / "data" / "smoke" / "mine"
    _lists(d, "1 run\n2 jump\n", "a.mp4 1\nb.mp4 7\n")
    (tmp_path / "params.yaml").write_text((config.PROJECT_ROOT / "params.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    assert main(["data", "manifest", "--profile", "smoke", "--dataset", "mine"]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert "trainlist01.txt line 2: label 7 of b.mp4 is not a class id of classInd.txt (ids 1..2)" in err
    assert "fix the list or add the class to classInd.txt" in err
