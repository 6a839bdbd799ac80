"""Real datasets: download, safe extraction, and adapters from each dataset's official annotation
format to the project's common layout under `data/<profile>/<dataset>/`:

    classInd.txt          "<id> <name>" per line, ids 0-based (0 .. C-1), sorted by id
    trainlist0K.txt       "<path> <label>" per line, path relative to the dataset dir
    testlist0K.txt        (K = official split number; datasets with one official split have K=1)
    videos/...            the videos, hard-linked (symlinked across file systems) from the source
    missing.txt           listed clips whose video was not found (YouTube datasets only)
    prepare.json          summary: dataset, source, splits, counts, downloads with their sha256

`motionmvm data manifest` (another step) probes the videos listed here.
"""
from motionmvm.datasets.errors import (ChecksumError, DatasetError, DownloadError, ExtractError,
                                       ManualDownloadRequired)

NAMES = ("ucf101", "hmdb51", "mimetics", "diving48", "ssv2", "k400")

__all__ = ["NAMES", "ChecksumError", "DatasetError", "DownloadError", "ExtractError", "ManualDownloadRequired"]
