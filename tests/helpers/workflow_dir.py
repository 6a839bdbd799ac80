"""A scratch directory for Snakemake dry runs: the workflow and params linked from the repository,
and none of the data/, cache/, runs/ or .snakemake/ state that earlier runs left in the worktree
(a dry run in the worktree answers differently once those outputs exist)."""
from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def workflow_dir(dest: Path) -> Path:
    for name in ("Snakefile", "workflow", "dvc.yaml", "params.yaml"):
        (dest / name).symlink_to(REPO / name)
    return dest
