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
    compressed: bool = False  # rar only: needs the external backend


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
            try:  # rar3 keeps the target as the member's data, rar5 in the header
                target = redir[2] if redir else rf.read(info).decode()
            except (rarfile.Error, UnicodeDecodeError) as exc:
                raise ExtractError(f"{archive}: cannot read the target of link {info.filename!r} "
                                   f"({exc}); refused") from None
            out.append(Member(info.filename, "symlink", target))
        elif redir:  # rar5 hard link or file copy: target relative to the archive root
            out.append(Member(info.filename, "hardlink", redir[2]))
        elif info.is_dir():
            out.append(Member(info.filename, "dir"))
        else:
            compressed = info.compress_type != rarfile.RAR_M0
            needs_tool |= compressed
            out.append(Member(info.filename, "file", open=lambda i=info: rf.open(i),
                              compressed=compressed))
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
    if any(m.compressed for _, m in checked):
        return _rar_with_tool(archive, root, checked)
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


# Whole-archive extraction commands per backend (rarfile's config names them *_TOOL). Reading
# 13k compressed members one by one through the tool would rescan the archive each time.
_RAR_EXTRACT = {
    "UNRAR_TOOL": lambda t, a, d: [t, "x", "-o+", "-y", "-idq", a, d + os.sep],
    "UNAR_TOOL": lambda t, a, d: [t, "-q", "-f", "-D", "-o", d, a],
    "SEVENZIP_TOOL": lambda t, a, d: [t, "x", "-y", "-bd", f"-o{d}", a],
    "SEVENZIP2_TOOL": lambda t, a, d: [t, "x", "-y", "-bd", f"-o{d}", a],
    "BSDTAR_TOOL": lambda t, a, d: [t, "-x", "-f", a, "-C", d],
}


def _rar_with_tool(archive: Path, root: Path, checked: list[tuple[str, Member]]) -> list[Path]:
    """Extract a compressed rar (members already checked) with the backend into a fresh staging
    folder, check what the tool wrote, then move it into `root`."""
    import subprocess
    import tempfile

    import rarfile

    setup = rarfile.tool_setup()
    tool = setup.get_cmdline("check_cmd", None)[0]
    command = _RAR_EXTRACT[setup.setup["open_cmd"][0]]
    staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=root))
    try:
        proc = subprocess.run(command(tool, str(archive), str(staging)), capture_output=True, text=True)
        if proc.returncode != 0:
            raise ExtractError(f"{archive}: {os.path.basename(tool)} failed ({proc.returncode}): "
                               f"{(proc.stderr or proc.stdout).strip()[-500:]}")
        expected = {name for name, _ in checked}
        moves = []
        for path in sorted(staging.rglob("*")):
            rel = path.relative_to(staging).as_posix()
            if path.is_dir() and not path.is_symlink():
                continue
            if rel not in expected:
                raise ExtractError(f"{archive}: {os.path.basename(tool)} wrote {rel!r}, which the "
                                   "archive listing does not name; refused")
            if path.is_symlink():
                _check_link(Member(rel, "symlink", os.readlink(path)), rel, archive)
            moves.append((path, root / rel))
        written = []
        for src, dest in moves:
            dest.parent.mkdir(parents=True, exist_ok=True)
            if not _inside(root, dest.parent):
                raise ExtractError(f"{archive}: {dest} would be written outside {root}; refused")
            os.replace(src, dest)
            if not dest.is_symlink():
                written.append(dest)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def rar_backend() -> str | None:
    """Name of the external rar tool rarfile will use, or None when none is installed."""
    import rarfile

    try:
        setup = rarfile.tool_setup()
    except rarfile.RarCannotExec:
        return None
    return setup.get_cmdline("check_cmd", None)[0]
