"""Each real-dataset adapter on fixtures in its official format -> the common layout."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from fixtures import official
from motionmvm import config
from motionmvm.datasets.errors import DatasetError, ManualDownloadRequired
from motionmvm.datasets.prepare import prepare

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def cfg(tmp_path):
    c = config.load(REPO / "params.yaml", "smoke")
    c["paths"]["data"] = str(tmp_path / "data")
    for name in ("ucf101", "hmdb51", "mimetics", "diving48", "ssv2", "k400"):
        c["datasets"][name]["root"] = str(tmp_path / "raw" / name)
        c["datasets"][name]["url"] = None
    return c


def read_list(path: Path) -> list[tuple[str, int]]:
    return [(ln.rsplit(" ", 1)[0], int(ln.rsplit(" ", 1)[1])) for ln in path.read_text().splitlines()]


def read_classes(out: Path) -> list[str]:
    rows = [ln.split(" ", 1) for ln in (out / "classInd.txt").read_text().splitlines()]
    assert [int(i) for i, _ in rows] == list(range(len(rows)))  # 0-based, in order
    return [n for _, n in rows]


def check_layout(out: Path, split: int = 1):
    """Every listed path exists below `out` and is inside videos/; labels index classInd."""
    classes = read_classes(out)
    for part in ("train", "test"):
        for rel, label in read_list(out / f"{part}list{split:02d}.txt"):
            assert rel.startswith("videos/") and (out / rel).is_file(), rel
            assert 0 <= label < len(classes)
    return classes


def test_ucf101_all_three_splits(cfg, tmp_path):
    official.ucf101(Path(cfg["datasets"]["ucf101"]["root"]))
    summary = prepare("ucf101", cfg, progress=False)
    out = tmp_path / "data/smoke/ucf101"
    assert check_layout(out) == official.UCF_CLASSES
    for k in (1, 2, 3):
        check_layout(out, k)
        test = read_list(out / f"testlist0{k}.txt")
        assert len(test) == 6 and all(f"_g{k:02d}_" in p for p, _ in test)
        assert len(read_list(out / f"trainlist0{k}.txt")) == 12
    train = dict(read_list(out / "trainlist01.txt"))
    # classInd "3 HandstandPushups" -> 2; the file keeps the archive's own spelling
    assert train["videos/HandstandPushups/v_HandStandPushups_g02_c01.avi"] == 2
    assert summary["videos"] == 18 and summary["missing"] == 0
    assert summary["lists"] == {"train": "trainlist01.txt", "test": "testlist01.txt"}
    assert json.loads((out / "prepare.json").read_text())["classes"] == 3
    # hard link: same file, no copy
    src = Path(cfg["datasets"]["ucf101"]["root"]) / "UCF-101/Archery/v_Archery_g01_c01.avi"
    assert (out / "videos/Archery/v_Archery_g01_c01.avi").samefile(src)


def test_ucf101_rerun_is_idempotent(cfg, tmp_path):
    official.ucf101(Path(cfg["datasets"]["ucf101"]["root"]))
    prepare("ucf101", cfg, progress=False)
    first = (tmp_path / "data/smoke/ucf101/trainlist02.txt").read_text()
    prepare("ucf101", cfg, progress=False)
    assert (tmp_path / "data/smoke/ucf101/trainlist02.txt").read_text() == first


def test_ucf101_missing_video_is_an_error(cfg):
    official.ucf101(Path(cfg["datasets"]["ucf101"]["root"]), skip_video="v_Archery_g01_c02.avi")
    with pytest.raises(DatasetError, match=r"1 of 18 listed videos .*Archery/v_Archery_g01_c02.avi"):
        prepare("ucf101", cfg, progress=False)


def test_ucf101_wrong_train_label_is_refused(cfg):
    root = official.ucf101(Path(cfg["datasets"]["ucf101"]["root"]))
    lst = root / "ucfTrainTestlist/trainlist01.txt"
    lst.write_text(lst.read_text().replace("_c01.avi 1", "_c01.avi 2", 1))
    with pytest.raises(DatasetError, match="label must be the classInd id"):
        prepare("ucf101", cfg, progress=False)


def test_ucf101_split_out_of_range_for_single_split_dataset(cfg):
    cfg["datasets"]["diving48"]["split"] = 2
    with pytest.raises(DatasetError, match=r"official splits \[1\]"):
        prepare("diving48", cfg, progress=False)


@pytest.mark.parametrize("as_rar", [False, True], ids=["folders", "per-class-rar"])
def test_hmdb51_splits(cfg, tmp_path, as_rar):
    official.hmdb51(Path(cfg["datasets"]["hmdb51"]["root"]), as_rar=as_rar)
    summary = prepare("hmdb51", cfg, progress=False)
    out = tmp_path / "data/smoke/hmdb51"
    assert check_layout(out) == official.HMDB_CLASSES
    for k in (1, 2, 3):
        check_layout(out, k)
        train = read_list(out / f"trainlist0{k}.txt")
        test = read_list(out / f"testlist0{k}.txt")
        assert len(train) == 3 * 3 and len(test) == 3 * 2  # id 0 (unused) left out
        cartwheel_test = sorted(p for p, label in test if label == 1)
        assert cartwheel_test == [f"videos/cartwheel/{official.hmdb_video('cartwheel', i)}"
                                  for i in (k + 1, k + 2)]
        assert f"videos/cartwheel/{official.hmdb_video('cartwheel', k)}" not in dict(train + test)
    assert summary["videos"] == 18


def test_hmdb51_bad_split_line(cfg):
    root = official.hmdb51(Path(cfg["datasets"]["hmdb51"]["root"]))
    (root / "testTrainMulti_7030_splits/cartwheel_test_split2.txt").write_text("clip.avi 7\n")
    with pytest.raises(DatasetError, match=r"cartwheel_test_split2.txt: line 'clip.avi 7'"):
        prepare("hmdb51", cfg, progress=False)


def test_diving48(cfg, tmp_path):
    official.diving48(Path(cfg["datasets"]["diving48"]["root"]))
    prepare("diving48", cfg, progress=False)
    out = tmp_path / "data/smoke/diving48"
    assert check_layout(out) == ["Back_15som_05Twis_FREE", "Forward_25som_NoTwis_PIKE",
                                 "Inward_35som_NoTwis_TUCK"]
    train = read_list(out / "trainlist01.txt")
    assert ("videos/-mmq0PT-u8k_00004.mp4", 1) in train and len(train) == 6
    assert read_list(out / "testlist01.txt")[0] == ("videos/zzzTest0_00000.mp4", 1)


def test_diving48_label_out_of_range(cfg):
    root = official.diving48(Path(cfg["datasets"]["diving48"]["root"]))
    (root / "Diving48_V2_test.json").write_text(json.dumps(
        [{"vid_name": "a_00001", "label": 48, "start_frame": 0, "end_frame": 9}]))
    with pytest.raises(DatasetError, match="label 48 outside 0..2"):
        prepare("diving48", cfg, progress=False)


def test_ssv2_label_from_template(cfg, tmp_path):
    official.ssv2(Path(cfg["datasets"]["ssv2"]["root"]))
    prepare("ssv2", cfg, progress=False)
    out = tmp_path / "data/smoke/ssv2"
    assert check_layout(out) == list(official.SSV2_LABELS)
    assert read_list(out / "trainlist01.txt") == [("videos/78687.webm", 1), ("videos/42326.webm", 2),
                                                  ("videos/100904.webm", 0)]
    assert read_list(out / "testlist01.txt") == [("videos/74225.webm", 2)]
    assert not (out / "videos/1420.webm").exists()  # test.json (unlabelled) is not used


def test_ssv2_unknown_template(cfg):
    root = official.ssv2(Path(cfg["datasets"]["ssv2"]["root"]))
    (root / "validation.json").write_text(json.dumps([{"id": "5", "template": "Juggling [something]"}]))
    with pytest.raises(DatasetError, match="'Juggling something'.*not in labels.json"):
        prepare("ssv2", cfg, progress=False)


def test_k400(cfg, tmp_path):
    official.k400(Path(cfg["datasets"]["k400"]["root"]))
    prepare("k400", cfg, progress=False)
    out = tmp_path / "data/smoke/k400"
    assert check_layout(out) == ["abseiling", "air drumming", "zumba"]
    assert read_list(out / "trainlist01.txt")[1] == ("videos/train/-0sSOfPuGYo_000025_000035.mp4", 1)
    assert read_list(out / "testlist01.txt") == [("videos/val/--nQbRBEz2s_000104_000114.mp4", 1),
                                                 ("videos/val/-1lEVvlLYRk_000062_000072.mp4", 2)]


def test_k400_missing_videos_within_and_over_the_limit(cfg, tmp_path):
    official.k400(Path(cfg["datasets"]["k400"]["root"]), drop=1)  # 1 of 6 clips gone (16.7%)
    cfg["datasets"]["k400"]["max_missing"] = 0.2
    summary = prepare("k400", cfg, progress=False)
    out = tmp_path / "data/smoke/k400"
    assert summary["missing"] == 1
    assert (out / "missing.txt").read_text() == "--GkrdYZ9Tc_000000_000010\n"
    assert len(read_list(out / "trainlist01.txt")) == 3
    cfg["datasets"]["k400"]["max_missing"] = 0.1
    with pytest.raises(DatasetError, match=r"1 of 6 listed videos \(16.7%\).*max_missing"):
        prepare("k400", cfg, progress=False)


def test_mimetics_is_a_test_set(cfg, tmp_path):
    official.mimetics(Path(cfg["datasets"]["mimetics"]["root"]))
    prepare("mimetics", cfg, progress=False)
    out = tmp_path / "data/smoke/mimetics"
    assert check_layout(out) == ["bowling", "playing guitar", "reading book"]
    assert read_list(out / "trainlist01.txt") == []
    assert read_list(out / "testlist01.txt")[2] == ("videos/clips/2L3dOaqgUeE_000007_000011.mp4", 0)


def test_mimetics_bad_csv_header(cfg):
    root = Path(cfg["datasets"]["mimetics"]["root"])
    root.mkdir(parents=True)
    (root / "mimetics_v1.0.csv").write_text("name,id\nbowling,abc\n")
    with pytest.raises(DatasetError, match=r"lacks \['label', 'time_end', 'time_start', 'youtube_id'\]"):
        prepare("mimetics", cfg, progress=False)


@pytest.mark.parametrize("name", ["hmdb51", "mimetics", "ssv2", "k400"])
def test_manual_datasets_say_where_and_how(cfg, name):
    with pytest.raises(ManualDownloadRequired) as err:
        prepare(name, cfg, progress=False)
    msg = str(err.value)
    assert cfg["datasets"][name]["root"] in msg and "--source" in msg and "layout" in msg
    assert {"hmdb51": "_test_split", "mimetics": "youtube_id", "ssv2": "labels.json",
            "k400": "validate.csv"}[name] in msg


def test_source_folder_is_used_in_place(cfg, tmp_path):
    src = official.diving48(tmp_path / "elsewhere")
    summary = prepare("diving48", cfg, source=str(src), progress=False)
    assert summary["source"] == str(src) and summary["videos"] == 9


@pytest.mark.parametrize("override, message", [
    ({"ucf101": {"split": 4}}, r"datasets.ucf101.split: 4 is out of range \[1, 3\]"),
    ({"hmdb51": {"rooot": "x"}}, r"unknown key datasets.hmdb51.rooot"),
    ({"k400": {"max_missing": 1.5}}, r"datasets.k400.max_missing: 1.5 is out of range \[0, 1\]"),
    ({"diving48": {"url": "ftp://x/y.tar"}}, r"datasets.diving48.url"),
    ({"ssv2": {"checksum": "sha1:abc"}}, r"datasets.ssv2.checksum"),
    ({"download": {"retries": -1}}, r"datasets.download.retries"),
])
def test_schema_refuses_bad_dataset_params(override, message):
    with pytest.raises(config.ConfigError, match=message):
        config.load(REPO / "params.yaml", "paper", overrides={"datasets": override})


def test_paper_profile_params_are_valid():
    cfg = config.load(REPO / "params.yaml", "paper")
    assert cfg["datasets"]["ucf101"]["split"] == 1
    assert cfg["datasets"]["k400"]["url"] is None  # YouTube ids: manual


def test_video_index_follows_links_without_looping(tmp_path):
    from motionmvm.datasets.layout import index_videos

    (tmp_path / "a").mkdir()
    (tmp_path / "a/x.mp4").write_bytes(b"v")
    (tmp_path / "a/loop").symlink_to(tmp_path)  # a link back up the tree
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere/y.avi").write_bytes(b"v")
    (tmp_path / "a/linked").symlink_to(tmp_path / "elsewhere")
    assert sorted(index_videos(tmp_path / "a")) == ["x.mp4", "y.avi"]
