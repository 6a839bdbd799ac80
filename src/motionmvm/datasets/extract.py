"""Safe extraction of zip, tar (.gz/.bz2/.xz) and rar archives.

Every member is checked before anything is written: absolute paths (also Windows drive letters and
backslashes), `..` components, device files, and symlinks or hard links whose target leaves the
target directory are refused with ExtractError naming the member. Members are then written by this
module (never by the archive library's own extractall) and each destination is checked once more
with realpath, so writing through a link planted earlier cannot escape either.

rar needs the `rarfile` package; stored (uncompressed) members are read directly, compressed ones
need an external backend: `unrar`, `unar`, `7z` or `bsdtar`. On Debian/Ubuntu
`apt-get install libarchive-tools` (bsdtar) or `apt-get install unar`.
"""
from __future__ import annotations

import os
import posixpath
import shutil
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, IO

from motionmvm.datasets.errors import ExtractError

RAR_BACKEND_HINT = ("no rar backend found: install one of unrar, unar, 7z or bsdtar "
                    "(Debian/Ubuntu: `apt-get install libarchive-tools` for bsdtar, or "
                    "`apt-get install unar`)")
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".rar")


@dataclass
class Member:
    """One archive entry. `kind` in file | dir | symlink | hardlink; `link` is the raw link target."""
    name: str
    kind: str
    link: str | None = None
    open: Callable[[], IO[bytes]] | None = None


def is_archive(path: str | Path) -> bool:
    return str(path).lower().endswith(ARCHIVE_SUFFIXES)


def _clean_name(name: str, archive: Path) -> str:
    """Normalized relative POSIX path of a member, or ExtractError when it could escape."""
    raw = name
    if "\\" in name:
        raise ExtractError(f"{archive}: member {raw!r} contains a backslash; refused")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise ExtractError(f"{archive}: member {raw!r} has an absolute path; refused")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ExtractError(f"{archive}: member {raw!r} contains '..'; refused")
    if not parts:
        raise ExtractError(f"{archive}: member {raw!r} has an empty path; refused")
    return "/".join(parts)


def _check_link(member: Member, name: str, archive: Path) -> None:
    """Symlink targets resolve from the link's folder, tar hard links from the archive root."""
    link = member.link or ""
    if not link or link.startswith("/") or "\\" in link or (len(link) > 1 and link[1] == ":"):
        raise ExtractError(f"{archive}: link {name!r} -> {link!r} points outside the target; refused")
    base = posixpath.dirname(name) if member.kind == "symlink" else ""
    resolved = posixpath.normpath(posixpath.join(base, link))
    if resolved == ".." or resolved.startswith("../"):
        raise ExtractError(f"{archive}: link {name!r} -> {link!r} points outside the target; refused")


def _zip_members(archive: Path) -> list[Member]:
    zf = zipfile.ZipFile(archive)
    out = []
    for info in zf.infolist():
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            out.append(Member(info.filename, "symlink", zf.read(info).decode()))
        elif info.is_dir():
            out.append(Member(info.filename, "dir"))
        else:
            out.append(Member(info.filename, "file", open=lambda i=info: zf.open(i)))
    return out


def _tar_members(archive: Path) -> list[Member]:
    tf = tarfile.open(archive, "r:*")
    out = []
    for info in tf.getmembers():
        if info.issym():
            out.append(Member(info.name, "symlink", info.linkname))
        elif info.islnk():
            out.append(Member(info.name, "hardlink", info.linkname))
        elif info.isdir():
            out.append(Member(info.name, "dir"))
        elif info.isfile():
            out.append(Member(info.name, "file", open=lambda i=info: tf.extractfile(i)))
        else:
            raise ExtractError(f"{archive}: member {info.name!r} is a device or fifo; refused")
    return out


def _rar_members(archive: Path) -> list[Member]:
    import rarfile

    try:
        rf = rarfile.RarFile(archive)
        infos = rf.infolist()
    except rarfile.Error as exc:
        raise ExtractError(f"{archive}: not a readable rar archive ({exc})") from exc
    out = []
    needs_tool = False
    for info in infos:
        redir = getattr(info, "file_redir", None)
        if info.is_symlink():
            target = redir[2] if redir else rf.read(info).decode()
            out.append(Member(info.filename, "symlink", target))
        elif redir:  # rar5 hard link or file copy: target relative to the archive root
            out.append(Member(info.filename, "hardlink", redir[2]))
        elif info.is_dir():
            out.append(Member(info.filename, "dir"))
        else:
            needs_tool |= info.compress_type != rarfile.RAR_M0
            out.append(Member(info.filename, "file", open=lambda i=info: rf.open(i)))
    if needs_tool:
        try:
            rarfile.tool_setup()
        except rarfile.RarCannotExec:
            raise ExtractError(f"{archive}: compressed rar members need an external tool; "
                               f"{RAR_BACKEND_HINT}") from None
    return out


def list_members(archive: str | Path) -> list[Member]:
    archive = Path(archive)
    if not archive.is_file():
        raise ExtractError(f"{archive}: no such archive")
    name = archive.name.lower()
    if name.endswith(".zip"):
        reader = _zip_members
    elif name.endswith(".rar"):
        reader = _rar_members
    elif any(name.endswith(s) for s in ARCHIVE_SUFFIXES):
        reader = _tar_members
    else:
        raise ExtractError(f"{archive}: unknown archive type; expected one of {ARCHIVE_SUFFIXES}")
    try:
        return reader(archive)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise ExtractError(f"{archive}: cannot read archive ({exc})") from exc


def _inside(root: Path, path: Path) -> bool:
    return os.path.commonpath([root, os.path.realpath(path)]) == str(root)


def safe_extract(archive: str | Path, target: str | Path) -> list[Path]:
    """Extract `archive` into `target` after checking every member; returns the written files."""
    archive = Path(archive)
    target = Path(target)
    members = list_members(archive)
    checked = []
    for m in members:
        name = _clean_name(m.name, archive)
        if m.kind in ("symlink", "hardlink"):
            _check_link(m, name, archive)
        checked.append((name, m))
    # A member below a symlink of the same archive would be written through that link.
    links = {name for name, m in checked if m.kind == "symlink"}
    for name, _ in checked:
        parents = name.split("/")[:-1]
        for i in range(1, len(parents) + 1):
            if "/".join(parents[:i]) in links:
                raise ExtractError(f"{archive}: member {name!r} lies below a symlink of the archive; refused")

    target.mkdir(parents=True, exist_ok=True)
    root = Path(os.path.realpath(target))
    written = []
    for name, m in checked:
        dest = root / name
        if not _inside(root, dest.parent if m.kind == "symlink" else dest):
            raise ExtractError(f"{archive}: member {name!r} would be written outside {target}; refused")
        if m.kind == "dir":
            dest.mkdir(parents=True, exist_ok=True)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.is_symlink() or dest.exists():
            dest.unlink()
        if m.kind == "symlink":
            os.symlink(m.link, dest)
        elif m.kind == "hardlink":
            source = root / posixpath.normpath(m.link)
            if not _inside(root, source) or not source.is_file():
                raise ExtractError(f"{archive}: hard link {name!r} -> {m.link!r} has no extracted target")
            shutil.copyfile(source, dest)
            written.append(dest)
        else:
            with m.open() as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
            written.append(dest)
    return written


def rar_backend() -> str | None:
    """Name of the external rar tool rarfile will use, or None when none is installed."""
    import rarfile

    try:
        setup = rarfile.tool_setup()
    except rarfile.RarCannotExec:
        return None
    return setup.get_cmdline("check_cmd", None)[0]
