"""Training logs: `log.csv` (one row per logged step, truncated to the checkpoint on resume),
TensorBoard scalars, and the loss-curve plot."""
from __future__ import annotations

import csv
from pathlib import Path

FIELDS = ["step", "epoch", "loss", "lr", "clips_per_s", "elapsed_s", "trivial_loss"]


class CsvLog:
    """Rows go to `<name>.partial.csv` while training and are published to `path` at the end.

    The working file is not a declared workflow output, so it survives when Snakemake or DVC
    delete the outputs of a killed job; the resumed run continues it from the checkpoint's step.
    """

    def __init__(self, path: str | Path, resume_step: int):
        self.final = Path(path)
        self.path = self.final.with_name(self.final.stem + ".partial.csv")
        rows = []
        if resume_step > 0 and self.path.exists():
            with self.path.open() as f:
                rows = [r for r in csv.DictReader(f) if int(r["step"]) <= resume_step]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("w", newline="") as f:
            w = csv.DictWriter(f, FIELDS)
            w.writeheader()
            w.writerows(rows)

    def write(self, row: dict) -> None:
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, FIELDS).writerow({k: row[k] for k in FIELDS})

    def publish(self) -> None:
        """Copy the finished log to its declared path atomically."""
        from motionmvm.io import atomic_write_bytes

        atomic_write_bytes(self.final, self.path.read_bytes())

    def rows(self) -> list[dict]:
        with self.path.open() as f:
            return [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]


def plot_loss(rows: list[dict], path: str | Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from motionmvm.io import atomic_path

    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot([r["step"] for r in rows], [r["loss"] for r in rows], lw=1)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("pretraining loss")
    ax.set_title(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
