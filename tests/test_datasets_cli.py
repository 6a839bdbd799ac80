"""`motionmvm prepare` end to end: official UCF101 archives served over loopback HTTP (a rar of
real videos and a zip of split files), downloaded with resume, verified, extracted, converted."""
from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import av
import pytest
import yaml

from fixtures import official
from fixtures.http_server import serve
from fixtures.rar4 import write_rar4
from fixtures.videos import tiny_video
from motionmvm.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ucf_archives(tmp_path_factory):
    """(UCF101.rar bytes, UCF101TrainTestSplits-RecognitionTask.zip bytes) in the official layout."""
    build = official.ucf101(tmp_path_factory.mktemp("build") / "ucf", video_bytes=tiny_video())
    rar_members = [(str(p.relative_to(build)), p.read_bytes(), "file")
                   for p in sorted((build / "UCF-101").rglob("*.avi"))]
    rar = write_rar4(build.parent / "UCF101.rar", rar_members).read_bytes()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for p in sorted((build / "ucfTrainTestlist").iterdir()):
            zf.write(p, f"ucfTrainTestlist/{p.name}")
    return rar, buf.getvalue()


def write_params(tmp_path: Path, ucf: dict) -> Path:
    """A params file in tmp_path (with the repository's schemas) pointing at tmp folders."""
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["paths"]["data"] = str(tmp_path / "data")
    raw["datasets"]["download"] = {"retries": 2, "backoff": 0.0, "timeout": 5}
    raw["datasets"]["ucf101"].update(root=str(tmp_path / "raw/ucf101"), **ucf)
    raw["datasets"]["hmdb51"]["root"] = str(tmp_path / "raw/hmdb51")
    (tmp_path / "workflow").symlink_to(REPO / "workflow")
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def run(params: Path, *args) -> int:
    return main(["prepare", "--params", str(params), "--profile", "smoke", "--no-progress", *args])


def test_prepare_downloads_with_resume_and_decodes(tmp_path, ucf_archives, capsys):
    rar, zipped = ucf_archives
    files = {"/UCF101.rar": rar, "/UCF101TrainTestSplits-RecognitionTask.zip": zipped}
    # the connection drops after 40% of every response: resumed with Range until complete
    with serve(files, mode="drop", drop_after=int(len(rar) * 0.4)) as (url, log):
        params = write_params(tmp_path, {"url": [url + p for p in files],
                                         "checksum": [sha(d) for d in files.values()]})
        assert run(params, "--dataset", "ucf101") == 0
    assert any(e["range"] for e in log)
    assert "3 classes, 18 videos, split 1: 12 train / 6 test, 0 missing" in capsys.readouterr().out
    out = tmp_path / "data/smoke/ucf101"
    rel = (out / "testlist01.txt").read_text().split()[0]
    with av.open(str(out / rel)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 8 and frames[0].shape == (32, 32, 3)


def test_prepare_refuses_corrupted_download(tmp_path, ucf_archives, capsys):
    rar, zipped = ucf_archives
    files = {"/UCF101.rar": rar, "/splits.zip": zipped}
    with serve(files, mode="corrupt") as (url, _):
        params = write_params(tmp_path, {"url": [url + p for p in files],
                                         "checksum": [sha(d) for d in files.values()]})
        assert run(params, "--dataset", "ucf101") == 1
    assert "sha256 is" in capsys.readouterr().err
    assert not (tmp_path / "raw/ucf101/downloads/UCF101.rar").exists()
    assert not (tmp_path / "data/smoke/ucf101").exists()


def test_prepare_from_source_archive(tmp_path, ucf_archives):
    rar, zipped = ucf_archives
    params = write_params(tmp_path, {"url": None, "checksum": None})
    (tmp_path / "splits.zip").write_bytes(zipped)
    (tmp_path / "UCF101.rar").write_bytes(rar)
    assert run(params, "--dataset", "ucf101", "--source", str(tmp_path / "splits.zip"),
               "--checksum", sha(zipped)) == 1  # the videos are not there yet: named in the error
    assert run(params, "--dataset", "ucf101", "--source", str(tmp_path / "UCF101.rar")) == 0
    assert len((tmp_path / "data/smoke/ucf101/trainlist03.txt").read_text().splitlines()) == 12


def test_prepare_from_several_source_archives(tmp_path, ucf_archives):
    rar, zipped = ucf_archives
    params = write_params(tmp_path, {"url": None, "checksum": None})
    (tmp_path / "splits.zip").write_bytes(zipped)
    (tmp_path / "UCF101.rar").write_bytes(rar)
    assert run(params, "--dataset", "ucf101", "--source", str(tmp_path / "splits.zip"),
               str(tmp_path / "UCF101.rar")) == 0
    assert (tmp_path / "data/smoke/ucf101/classInd.txt").read_text().startswith("0 ApplyEyeMakeup\n")


def test_prepare_manual_dataset_message(tmp_path, capsys):
    params = write_params(tmp_path, {})
    assert run(params, "--dataset", "hmdb51") == 1
    err = capsys.readouterr().err
    assert "cannot be downloaded automatically" in err and str(tmp_path / "raw/hmdb51") in err


def test_interrupted_fetch_is_completed_by_the_next_run(tmp_path, ucf_archives):
    rar, zipped = ucf_archives
    paths = ["/UCF101TrainTestSplits-RecognitionTask.zip", "/UCF101.rar"]
    with serve({paths[0]: zipped}) as (url, _):  # the rar is not there yet (404)
        params = write_params(tmp_path, {"url": [url + p for p in paths], "checksum": None})
        assert run(params, "--dataset", "ucf101") == 1
    with serve({paths[0]: zipped, paths[1]: rar}, mode="ok") as (url2, log):
        raw = yaml.safe_load(params.read_text())
        raw["datasets"]["ucf101"]["url"] = [url2 + p for p in paths]
        params.write_text(yaml.safe_dump(raw))
        assert run(params, "--dataset", "ucf101") == 0
    assert [e["path"] for e in log] == [paths[1]]  # the finished zip was not fetched again
