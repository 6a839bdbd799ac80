"""Errors of the real-dataset step; each message names the file or URL and what to do."""
from __future__ import annotations


class DatasetError(RuntimeError):
    """Annotation files or videos that do not match a dataset's official layout."""


class DownloadError(DatasetError):
    """A download that failed for good (HTTP error, retries exhausted, size mismatch)."""


class ChecksumError(DownloadError):
    """Downloaded bytes whose digest differs from the expected one (the file is not kept)."""


class ExtractError(DatasetError):
    """An archive that is unsafe (paths escaping the target) or cannot be read."""


class ManualDownloadRequired(DatasetError):
    """The dataset cannot be fetched automatically; the message says where to put which files."""
