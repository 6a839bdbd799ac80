"""dvc.lock and `*.dvc` files: the md5 DVC recorded for each output file the audit traces."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from motionmvm.config import read_yaml


class DvcLock:
    """md5 of every output DVC recorded, for files directly or inside directory outputs: the
    stage outputs in dvc.lock and the files tracked with `dvc add` (`*.dvc` files)."""

    def __init__(self, lock_path: Path | None, root: Path):
        self.root = root
        self.files: dict[str, tuple[str, str]] = {}  # relpath -> (md5, stage or .dvc file)
        self.dirs: dict[str, tuple[str, str]] = {}
        if lock_path is None:
            return
        if lock_path.exists():
            lock = read_yaml(lock_path) or {}
            for stage, body in (lock.get("stages") or {}).items():
                self._add(body.get("outs"), Path("."), f"stage {stage!r} in dvc.lock")
        for dvcfile in sorted(root.rglob("*.dvc")):
            rel = dvcfile.relative_to(root)
            if rel.parts[0] in (".dvc", ".git") or not dvcfile.is_file():
                continue
            body = read_yaml(dvcfile) or {}
            self._add(body.get("outs"), rel.parent, str(rel))

    def _add(self, outs, base: Path, source: str) -> None:
        for out in outs or []:
            md5 = out.get("md5")
            if md5 is not None:
                path = str(Path(base, out["path"])).rstrip("/")
                (self.dirs if md5.endswith(".dir") else self.files)[path] = (md5, source)

    def _dir_listing(self, md5_dir: str) -> dict[str, str] | None:
        obj = self.root / ".dvc" / "cache" / "files" / "md5" / md5_dir[:2] / md5_dir[2:]
        if not obj.exists():
            return None
        return {e["relpath"]: e["md5"] for e in json.loads(obj.read_text())}

    def expected(self, rel: str) -> tuple[str, str] | None:
        """(md5, stage) that dvc.lock records for file `rel`, or None if no stage outputs it."""
        if rel in self.files:
            return self.files[rel]
        for d, (md5, stage) in self.dirs.items():
            if rel.startswith(d + "/"):
                listing = self._dir_listing(md5)
                if listing is None:
                    return None  # directory object not in the cache: cannot tell
                inner = rel[len(d) + 1:]
                return (listing.get(inner, "<not in the directory output>"), stage)
        return None


def md5_file(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
