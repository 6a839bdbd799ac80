"""Downloads against a loopback server: resume with Range, retries, checksums, HTTP errors."""
from __future__ import annotations

import hashlib
import os

import pytest

from fixtures.http_server import serve
from motionmvm.datasets.download import download, parse_checksum, verify
from motionmvm.datasets.errors import ChecksumError, DownloadError

DATA = os.urandom(20_000)
SHA = "sha256:" + hashlib.sha256(DATA).hexdigest()
MD5 = "md5:" + hashlib.md5(DATA).hexdigest()
FAST = dict(retries=3, backoff=0.0, timeout=5, progress=False)


def test_plain_download_verifies_sha256(tmp_path):
    with serve({"/f.bin": DATA}) as (url, log):
        out = download(f"{url}/f.bin", tmp_path / "f.bin", checksum=SHA, **FAST)
    assert out.read_bytes() == DATA
    assert not (tmp_path / "f.bin.part").exists()
    assert len(log) == 1 and log[0]["range"] is None


def test_md5_checksum_accepted(tmp_path):
    with serve({"/f.bin": DATA}) as (url, _):
        download(f"{url}/f.bin", tmp_path / "f.bin", checksum=MD5, **FAST)
    assert (tmp_path / "f.bin").read_bytes() == DATA


def test_dropped_connection_resumes_with_range(tmp_path):
    # every response stops after 6000 bytes: 4 requests, the last three with Range
    with serve({"/f.bin": DATA}, mode="drop", drop_after=6000) as (url, log):
        download(f"{url}/f.bin", tmp_path / "f.bin", checksum=SHA, **FAST)
    assert (tmp_path / "f.bin").read_bytes() == DATA
    assert [e["range"] for e in log] == [None, "bytes=6000-", "bytes=12000-", "bytes=18000-"]


def test_existing_part_file_is_resumed(tmp_path):
    (tmp_path / "f.bin.part").write_bytes(DATA[:5000])
    with serve({"/f.bin": DATA}) as (url, log):
        download(f"{url}/f.bin", tmp_path / "f.bin", checksum=SHA, **FAST)
    assert log[0]["range"] == "bytes=5000-"
    assert (tmp_path / "f.bin").read_bytes() == DATA


def test_server_ignoring_range_restarts_file(tmp_path):
    (tmp_path / "f.bin.part").write_bytes(b"x" * 5000)  # stale bytes that must not survive
    with serve({"/f.bin": DATA}, mode="norange") as (url, _):
        download(f"{url}/f.bin", tmp_path / "f.bin", checksum=SHA, **FAST)
    assert (tmp_path / "f.bin").read_bytes() == DATA


def test_complete_part_file_with_416_is_finished(tmp_path):
    (tmp_path / "f.bin.part").write_bytes(DATA)
    with serve({"/f.bin": DATA}) as (url, _):
        download(f"{url}/f.bin", tmp_path / "f.bin", checksum=SHA, **FAST)
    assert (tmp_path / "f.bin").read_bytes() == DATA


def test_corrupted_bytes_raise_and_are_not_kept(tmp_path):
    with serve({"/f.bin": DATA}, mode="corrupt") as (url, _):
        with pytest.raises(ChecksumError, match="expected"):
            download(f"{url}/f.bin", tmp_path / "f.bin", checksum=SHA, **FAST)
    assert not (tmp_path / "f.bin").exists()
    assert not (tmp_path / "f.bin.part").exists()


def test_existing_bad_file_is_fetched_again(tmp_path):
    (tmp_path / "f.bin").write_bytes(b"old")
    with serve({"/f.bin": DATA}) as (url, log):
        download(f"{url}/f.bin", tmp_path / "f.bin", checksum=SHA, **FAST)
    assert len(log) == 1 and (tmp_path / "f.bin").read_bytes() == DATA


def test_not_found_is_not_retried(tmp_path):
    with serve({}) as (url, log):
        with pytest.raises(DownloadError, match="HTTP 404"):
            download(f"{url}/nope.bin", tmp_path / "nope.bin", **FAST)
    assert len(log) == 1


def test_server_errors_are_retried_then_reported(tmp_path):
    with serve({}, mode="error", status=503) as (url, log):
        with pytest.raises(DownloadError, match="gave up after 3 retries"):
            download(f"{url}/f.bin", tmp_path / "f.bin", **FAST)
    assert len(log) == 4  # first try + 3 retries


def test_backoff_doubles(tmp_path, monkeypatch):
    sleeps = []
    monkeypatch.setattr("motionmvm.datasets.download.time.sleep", sleeps.append)
    with serve({}, mode="error", status=503) as (url, _):
        with pytest.raises(DownloadError):
            download(f"{url}/f.bin", tmp_path / "f.bin", retries=3, backoff=0.5, timeout=5,
                     progress=False)
    assert sleeps == [0.5, 1.0, 2.0]


def test_connection_refused_is_a_download_error(tmp_path):
    with serve({}) as (url, _):
        pass  # server stopped: the port now refuses connections
    with pytest.raises(DownloadError, match="gave up"):
        download(f"{url}/f.bin", tmp_path / "f.bin", **FAST)


@pytest.mark.parametrize("bad", ["sha1:abcd", "sha256:xyz", "1234", "md5:" + "0" * 64])
def test_malformed_checksum_refused(bad):
    with pytest.raises(ValueError, match="checksum"):
        parse_checksum(bad)


def test_verify_bare_hex(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(DATA)
    verify(p, hashlib.sha256(DATA).hexdigest())
    with pytest.raises(ChecksumError):
        verify(p, hashlib.md5(b"other").hexdigest())


def test_no_range_support_and_drops_gives_up(tmp_path):
    # every answer restarts at byte 0 and stops at 6000: no progress, bounded number of tries
    with serve({"/f.bin": DATA}, mode="norange-drop", drop_after=6000) as (url, log):
        with pytest.raises(DownloadError, match="gave up after 3 retries"):
            download(f"{url}/f.bin", tmp_path / "f.bin", checksum=SHA, **FAST)
    assert len(log) == 5  # first answer grows the file, then 1 + 3 retries without growth
    assert (tmp_path / "f.bin.part").stat().st_size == 6000
