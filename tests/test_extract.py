"""Safe extraction: zip-slip, absolute paths and escaping links are refused before any write."""
from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from fixtures.rar4 import write_rar4
from motionmvm.datasets.errors import ExtractError
from motionmvm.datasets.extract import rar_backend, safe_extract


def make_zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members:
            zf.writestr(name, data)
    return path


def make_tar(path, members, mode="w:gz"):
    """members: (name, data) files, or (name, target, "sym"|"hard") links."""
    with tarfile.open(path, mode) as tf:
        for m in members:
            info = tarfile.TarInfo(m[0])
            if len(m) == 3:
                info.type = tarfile.SYMTYPE if m[2] == "sym" else tarfile.LNKTYPE
                info.linkname = m[1]
                tf.addfile(info)
            else:
                info.size = len(m[1])
                tf.addfile(info, io.BytesIO(m[1]))
    return path


def written(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


def test_zip_extracts(tmp_path):
    arc = make_zip(tmp_path / "a.zip", [("d/x.txt", b"x"), ("y.txt", b"yy")])
    files = safe_extract(arc, tmp_path / "out")
    assert (tmp_path / "out/d/x.txt").read_bytes() == b"x"
    assert len(files) == 2


@pytest.mark.parametrize("evil", ["../evil.txt", "d/../../evil.txt", "/tmp/evil.txt", "C:/evil.txt",
                                  "d\\..\\..\\evil.txt"])
def test_zip_escaping_names_refused_before_writing(tmp_path, evil):
    arc = make_zip(tmp_path / "a.zip", [("good.txt", b"g"), (evil, b"e")])
    with pytest.raises(ExtractError, match="refused"):
        safe_extract(arc, tmp_path / "out")
    assert written(tmp_path / "out") == []  # the good member before it was not written either
    assert not (tmp_path / "evil.txt").exists()


def test_tar_extracts_with_inner_links(tmp_path):
    arc = make_tar(tmp_path / "a.tar.gz", [("d/x.txt", b"x"), ("d/l", "x.txt", "sym"),
                                            ("h", "d/x.txt", "hard")])
    safe_extract(arc, tmp_path / "out")
    assert (tmp_path / "out/d/l").is_symlink() and (tmp_path / "out/d/l").read_bytes() == b"x"
    assert (tmp_path / "out/h").read_bytes() == b"x"


@pytest.mark.parametrize("members", [
    [("ok.txt", b"o"), ("/abs.txt", b"a")],
    [("ok.txt", b"o"), ("a/../../up.txt", b"u")],
    [("ok.txt", b"o"), ("d/link", "../../outside", "sym")],
    [("ok.txt", b"o"), ("link", "/etc/passwd", "sym")],
    [("ok.txt", b"o"), ("hard", "../outside", "hard")],
    [("ok.txt", b"o"), ("link", "d", "sym"), ("link/x.txt", b"through the link")],
], ids=["absolute", "dotdot", "symlink-escape", "symlink-absolute", "hardlink-escape", "below-symlink"])
def test_tar_unsafe_members_refused_before_writing(tmp_path, members):
    arc = make_tar(tmp_path / "a.tar", members, mode="w")
    with pytest.raises(ExtractError, match="refused"):
        safe_extract(arc, tmp_path / "out")
    assert written(tmp_path / "out") == []


def test_tar_device_refused(tmp_path):
    with tarfile.open(tmp_path / "a.tar", "w") as tf:
        info = tarfile.TarInfo("dev")
        info.type = tarfile.CHRTYPE
        tf.addfile(info)
    with pytest.raises(ExtractError, match="device"):
        safe_extract(tmp_path / "a.tar", tmp_path / "out")


def test_corrupt_and_unknown_archives(tmp_path):
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    with pytest.raises(ExtractError, match="cannot read"):
        safe_extract(tmp_path / "bad.zip", tmp_path / "out")
    (tmp_path / "x.7z").write_bytes(b"7z")
    with pytest.raises(ExtractError, match="unknown archive type"):
        safe_extract(tmp_path / "x.7z", tmp_path / "out")


def test_rar_stored_extracts_without_backend(tmp_path):
    arc = write_rar4(tmp_path / "a.rar", [("cls", b"", "dir"), ("cls/v.avi", b"video", "file"),
                                          ("cls/l.avi", "v.avi", "symlink")])
    safe_extract(arc, tmp_path / "out")
    assert (tmp_path / "out/cls/v.avi").read_bytes() == b"video"
    assert (tmp_path / "out/cls/l.avi").is_symlink()


@pytest.mark.parametrize("members", [
    [("ok", b"o", "file"), ("../evil", b"e", "file")],
    [("ok", b"o", "file"), ("/abs", b"a", "file")],
    [("ok", b"o", "file"), ("d/l", "../../x", "symlink")],
], ids=["dotdot", "absolute", "symlink-escape"])
def test_rar_unsafe_members_refused(tmp_path, members):
    arc = write_rar4(tmp_path / "a.rar", members)
    with pytest.raises(ExtractError, match="refused"):
        safe_extract(arc, tmp_path / "out")
    assert written(tmp_path / "out") == []


def test_rar_compressed_without_backend_names_the_package(tmp_path, monkeypatch):
    import rarfile

    def no_tool(*a, **k):
        raise rarfile.RarCannotExec("Cannot find working tool")

    monkeypatch.setattr(rarfile, "tool_setup", no_tool)
    arc = write_rar4(tmp_path / "a.rar", [("v.avi", b"video", "file")], method=0x33)
    with pytest.raises(ExtractError, match="libarchive-tools"):
        safe_extract(arc, tmp_path / "out")


@pytest.mark.skipif(rar_backend() is None, reason="no rar backend (unrar/unar/7z/bsdtar); on Debian "
                    "`apt-get install libarchive-tools` enables this test")
def test_rar_through_backend(tmp_path):
    """The whole-archive command used for compressed archives, with the installed tool.
    (rarfile's own per-member reads are not used: with bsdtar they pass `-f --` and fail.)"""
    from motionmvm.datasets import extract

    arc = write_rar4(tmp_path / "a.rar", [("cls/v.avi", b"video bytes", "file"),
                                          ("cls/l.avi", "v.avi", "symlink")])
    checked = [(m.name, m) for m in extract.list_members(arc)]
    (tmp_path / "out").mkdir()
    files = extract._rar_with_tool(arc, (tmp_path / "out").resolve(), checked)
    assert [p.name for p in files] == ["v.avi"]
    assert (tmp_path / "out/cls/v.avi").read_bytes() == b"video bytes"
    assert os.readlink(tmp_path / "out/cls/l.avi") == "v.avi"


@pytest.fixture
def fake_bsdtar(tmp_path, monkeypatch):
    """Make rarfile pick a stand-in bsdtar (a script reading fixtures.rar4 archives)."""
    import sys

    import rarfile

    script = tmp_path / "bsdtar"
    here = Path(__file__).resolve().parent / "fixtures" / "fake_bsdtar.py"
    script.write_text(f"#!/bin/sh\nexec {sys.executable} {here} \"$@\"\n")
    script.chmod(0o755)
    monkeypatch.setattr(rarfile, "BSDTAR_TOOL", str(script))
    monkeypatch.setattr(rarfile, "tool_setup",
                        lambda *a, **k: rarfile.ToolSetup(rarfile.BSDTAR_CONFIG))
    return script


def test_compressed_rar_goes_through_backend_in_one_call(tmp_path, fake_bsdtar):
    arc = write_rar4(tmp_path / "a.rar", [("cls/v1.avi", b"one", "file"), ("cls/v2.avi", b"two", "file")],
                     method=0x33)
    files = safe_extract(arc, tmp_path / "out")
    assert sorted(p.name for p in files) == ["v1.avi", "v2.avi"]
    assert (tmp_path / "out/cls/v2.avi").read_bytes() == b"two"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["cls"]  # staging folder removed


def test_backend_writing_unlisted_paths_is_refused(tmp_path, fake_bsdtar, monkeypatch):
    monkeypatch.setenv("FAKE_BSDTAR_EVIL", "1")
    arc = write_rar4(tmp_path / "a.rar", [("v.avi", b"one", "file")], method=0x33)
    with pytest.raises(ExtractError, match="sneaky"):
        safe_extract(arc, tmp_path / "out")
    assert written(tmp_path / "out") == []
