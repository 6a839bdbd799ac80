"""HTTP(S) downloads that resume, retry and verify.

- Bytes go to `<dest>.part`; a dropped connection keeps them and the next attempt asks for the rest
  with `Range: bytes=<have>-`. A server that ignores Range (200 instead of 206) restarts the file.
- Failures that may be transient (connection reset, timeout, HTTP 408/429/5xx) are retried with
  exponential back-off `backoff * 2**k` (k = consecutive failures that did not grow the file past
  its largest size so far); growth resets k, so a flaky server that always sends *some* more bytes
  still finishes the file, and one that restarts from 0 and drops at the same place gives up.
- The file is renamed onto `dest` only after the size and the checksum match; a file whose digest
  differs is deleted and ChecksumError names both digests.
Checksums are written `sha256:<hex>` or `md5:<hex>` (a bare 64/32-hex string means sha256/md5).
"""
from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import requests

from motionmvm.datasets.errors import ChecksumError, DownloadError

CHUNK = 1 << 16
RETRYABLE_STATUS = {408, 429, 500, 502, 503, 504}


def parse_checksum(checksum: str) -> tuple[str, str]:
    """`"sha256:ab.."` -> ("sha256", "ab.."); bare hex is sha256 (64) or md5 (32)."""
    text = checksum.strip().lower()
    if ":" in text:
        algo, digest = text.split(":", 1)
    elif len(text) == 64:
        algo, digest = "sha256", text
    elif len(text) == 32:
        algo, digest = "md5", text
    else:
        raise ValueError(f"checksum {checksum!r}: write it as 'sha256:<64 hex>' or 'md5:<32 hex>'")
    expected_len = {"sha256": 64, "md5": 32}.get(algo)
    if expected_len is None:
        raise ValueError(f"checksum {checksum!r}: algorithm {algo!r} not supported; use sha256 or md5")
    if len(digest) != expected_len or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"checksum {checksum!r}: expected {expected_len} hex digits for {algo}")
    return algo, digest


def file_digest(path: str | Path, algo: str = "sha256") -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(path: str | Path, checksum: str) -> None:
    """Raise ChecksumError when the file's digest differs from `checksum`."""
    algo, expected = parse_checksum(checksum)
    actual = file_digest(path, algo)
    if actual != expected:
        raise ChecksumError(f"{path}: {algo} is {actual}, expected {expected} (corrupted or wrong file)")


def filename_from_url(url: str) -> str:
    name = Path(unquote(urlparse(url).path)).name
    if not name:
        raise DownloadError(f"{url}: cannot tell a file name from the URL; give a destination path")
    return name


def _total_size(resp: requests.Response, offset: int) -> int | None:
    """Full file size from Content-Range ("bytes a-b/N") or Content-Length."""
    crange = resp.headers.get("Content-Range", "")
    if "/" in crange and not crange.endswith("/*"):
        return int(crange.rsplit("/", 1)[1])
    length = resp.headers.get("Content-Length")
    return offset + int(length) if length is not None else None


def _range_start(resp: requests.Response) -> int:
    crange = resp.headers.get("Content-Range", "")  # "bytes 100-199/200"
    try:
        return int(crange.split()[1].split("-")[0])
    except (IndexError, ValueError):
        raise DownloadError(f"{resp.url}: 206 response with an unreadable Content-Range {crange!r}")


def download(url: str, dest: str | Path, *, checksum: str | None = None, retries: int = 5,
             backoff: float = 1.0, timeout: float = 60.0, progress: bool = True,
             session: requests.Session | None = None) -> Path:
    """Download `url` to `dest` (a file path); returns `dest`.

    An existing `dest` is kept when it matches `checksum` (or when no checksum is given: `dest`
    only ever appears complete, via rename). `retries` bounds consecutive failures without progress.
    """
    from tqdm import tqdm

    dest = Path(dest)
    if checksum is not None:
        parse_checksum(checksum)  # refuse a malformed checksum before any network traffic
    if dest.exists():
        if checksum is None:
            return dest
        try:
            verify(dest, checksum)
            return dest
        except ChecksumError:
            dest.unlink()  # a stale or foreign file: fetch again
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    session = session or requests.Session()
    failures = 0
    best = 0  # largest .part size reached: only growth beyond it counts as progress
    last_error = ""
    bar = tqdm(desc=dest.name, unit="B", unit_scale=True, disable=not progress, leave=False)
    try:
        while True:
            offset = part.stat().st_size if part.exists() else 0
            # identity: byte ranges must refer to the file itself, not to a gzip stream of it
            headers = {"Accept-Encoding": "identity"}
            if offset:
                headers["Range"] = f"bytes={offset}-"
            try:
                with session.get(url, headers=headers, stream=True, timeout=timeout) as resp:
                    if resp.status_code == 416 and offset:
                        # Range past the end: the part file is complete or longer than the file.
                        total = _total_size(resp, 0)
                        if total is not None and total == offset:
                            break
                        part.unlink()
                        continue
                    if resp.status_code in RETRYABLE_STATUS:
                        raise requests.HTTPError(f"HTTP {resp.status_code}", response=resp)
                    if resp.status_code >= 400:
                        raise DownloadError(f"{url}: HTTP {resp.status_code} {resp.reason}; "
                                            "check the URL (not retried)")
                    if resp.status_code == 206:
                        if _range_start(resp) != offset:
                            raise DownloadError(f"{url}: server resumed at {_range_start(resp)}, "
                                                f"asked for {offset}")
                        mode = "ab"
                    else:  # 200: the server sends the whole file (Range ignored or first attempt)
                        offset, mode = 0, "wb"
                    total = _total_size(resp, offset)
                    # Keep the bytes of a cut-off response (urllib3 would drop the last chunk
                    # with IncompleteRead); the size check below notices the cut instead.
                    resp.raw.enforce_content_length = False
                    bar.reset(total=total)
                    bar.update(offset)
                    with open(part, mode) as f:
                        for block in resp.iter_content(CHUNK):
                            f.write(block)
                            bar.update(len(block))
                    size = part.stat().st_size
                    if total is not None and size != total:
                        raise requests.ConnectionError(f"connection closed at {size} of {total} bytes")
                    break
            except (requests.ConnectionError, requests.Timeout, requests.HTTPError,
                    requests.exceptions.ChunkedEncodingError) as exc:
                last_error = str(exc)
                size = part.stat().st_size if part.exists() else 0
                failures = 0 if size > best else failures + 1
                best = max(best, size)
                if failures > retries:
                    raise DownloadError(f"{url}: gave up after {retries} retries without progress; "
                                        f"last error: {last_error}; partial data kept in {part} "
                                        "(the next run resumes it)") from exc
                time.sleep(backoff * 2 ** max(failures - 1, 0))
    finally:
        bar.close()
    if checksum is not None:
        try:
            verify(part, checksum)
        except ChecksumError as exc:
            part.unlink()
            raise ChecksumError(f"{url}: {exc}; the download was deleted") from None
    os.replace(part, dest)
    return dest
