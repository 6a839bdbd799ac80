"""`prepare`: bring one real dataset into the common layout.

Where the official files come from, first match wins:
  1. `source` (CLI --source, one or more): URLs (downloaded and extracted into `root`), archives
     (extracted into `root`) and at most one folder (used in place; default `root`);
  2. `datasets.<name>.url` (one URL or a list, with `checksum` alike) when `root` is empty or has
     a `downloads/` folder (a fetch this step started): downloaded into `<root>/downloads/`
     (finished files are kept), archives extracted into `root` once, other files linked there;
  3. `datasets.<name>.root` when it holds files (the user's copy of the official files);
  4. otherwise ManualDownloadRequired says where to put which files.
The adapter then writes `<data>/<profile>/<name>/` (see motionmvm.datasets).
"""
from __future__ import annotations

import importlib
import re
from pathlib import Path

from motionmvm.datasets import NAMES
from motionmvm.datasets import download as dl
from motionmvm.datasets import layout
from motionmvm.datasets.errors import DatasetError, ManualDownloadRequired
from motionmvm.datasets.extract import is_archive, safe_extract

def adapter(name: str):
    if name not in NAMES:
        raise DatasetError(f"unknown dataset {name!r}; allowed values are {list(NAMES)}")
    return importlib.import_module(f"motionmvm.datasets.{name}")


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def manual_message(name: str, root: Path, why: str | None) -> str:
    mod = adapter(name)
    return (f"{name} cannot be downloaded automatically: {why or 'no URL configured'}.\n"
            f"Put the official files under {root} (params datasets.{name}.root), or run\n"
            f"  motionmvm prepare --dataset {name} --source PATH_OR_URL\n"
            f"(PATH may be a folder or a zip/tar/rar archive), in this layout:\n{mod.LAYOUT}\n"
            "then run the step again.")


def missing_by_hand(name: str, cfg: dict) -> str | None:
    """One line naming which files to put where, when `prepare` (without --source) would stop for
    want of them: no URL is configured and `datasets.<name>.root` holds no files; else None.
    The workflow says it before building its DAG, instead of a missing-input error downstream."""
    mod = adapter(name)
    spec = cfg["datasets"][name]
    root = Path(spec["root"])
    prepared = Path(cfg["paths"]["data"]) / cfg["profile"] / name / "prepare.json"
    if prepared.exists() or spec.get("url") or _has_files(root):
        return None
    files = "; ".join(" ".join(line.split()).replace("<source>", str(root))
                      for line in mod.LAYOUT.splitlines())
    return (f"{name} must be placed by hand ({mod.MANUAL_REASON or 'no URL configured'}): put its official "
            f"files under {root}/ (params datasets.{name}.root) as {files}; or run `motionmvm prepare "
            f"--dataset {name} --source PATH_OR_URL`; then run again")


def _has_files(root: Path) -> bool:
    return root.is_dir() and any(p.is_file() and "downloads" not in p.relative_to(root).parts[:1]
                                 for p in root.rglob("*"))


def _unpack(file: Path, root: Path) -> None:
    """Extract an archive into `root` once (a marker remembers it), or link a plain file there."""
    if is_archive(file):
        marker = root / ".extracted" / f"{file.name}.done"
        if not marker.exists():
            safe_extract(file, root)
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(dl.file_digest(file) + "\n")
    else:
        layout.place(file, root / file.name)


def fetch(urls: list[str], checksums: list, root: Path, dcfg: dict, progress: bool) -> list[dict]:
    if checksums and len(checksums) != len(urls):
        raise DatasetError(f"{len(urls)} URLs but {len(checksums)} checksums; give one per URL or none")
    records = []
    for i, url in enumerate(urls):
        checksum = checksums[i] if checksums else None
        dest = root / "downloads" / dl.filename_from_url(url)
        dl.download(url, dest, checksum=checksum, retries=dcfg["retries"], backoff=dcfg["backoff"],
                    timeout=dcfg["timeout"], progress=progress)
        _unpack(dest, root)
        records.append({"url": url, "file": str(dest), "sha256": dl.file_digest(dest),
                        "checksum_verified": checksum is not None})
    return records


def prepare(name: str, cfg: dict, source: str | list[str] | None = None, checksum: str | None = None,
            out: str | Path | None = None, progress: bool = True) -> dict:
    """Convert dataset `name` into `<data>/<profile>/<name>/`; returns the prepare.json summary."""
    mod = adapter(name)
    spec = cfg["datasets"][name]
    if spec["split"] not in mod.SPLITS:
        raise DatasetError(f"datasets.{name}.split: {spec['split']} is not allowed; {name} has "
                           f"official splits {list(mod.SPLITS)}")
    out = Path(out) if out else Path(cfg["paths"]["data"]) / cfg["profile"] / name
    root = Path(spec["root"])
    dcfg = cfg["datasets"]["download"]
    downloads: list[dict] = []
    sources = _as_list(source)
    if checksum and len(sources) != 1:
        raise DatasetError("--checksum needs exactly one --source")
    if sources:
        src = root
        for item in sources:
            if is_url(item):
                downloads += fetch([item], [checksum] if checksum else [], root, dcfg, progress)
                continue
            path = Path(item)
            if not path.exists():
                raise DatasetError(f"--source {item}: no such file or folder")
            if path.is_dir():
                if src != root:
                    raise DatasetError("--source: give at most one folder (archives and URLs are "
                                       f"extracted into {root})")
                src = path
                continue
            if checksum:
                dl.verify(path, checksum)
            _unpack(path, root)
    elif spec.get("url") and ((root / "downloads").is_dir() or not _has_files(root)):
        # an empty root, or one this step started downloading into: fetch (finished files skip)
        downloads = fetch(_as_list(spec["url"]), _as_list(spec.get("checksum")), root, dcfg, progress)
        src = root
    elif _has_files(root):
        src = root
    else:
        raise ManualDownloadRequired(manual_message(name, root, mod.MANUAL_REASON))
    try:
        conv = mod.convert(src, root, spec["max_missing"])
    except DatasetError as exc:
        if not _has_files(src):
            raise ManualDownloadRequired(manual_message(name, src, mod.MANUAL_REASON)) from exc
        raise
    layout.check_missing(name, conv.missing, conv.listed, spec["max_missing"], src, mod.LAYOUT)
    counts = layout.write(out, conv)
    summary = {"dataset": name, "source": str(src), "split": spec["split"],
               "lists": {"train": f"trainlist{spec['split']:02d}.txt",
                         "test": f"testlist{spec['split']:02d}.txt"},
               "downloads": downloads, **counts}
    layout.write_summary(out, summary)
    return summary
