"""Read the results table written by `motionmvm.eval.aggregate` (results/P/table.md).

Rows: `| protocol | method | dataset | seeds | top-1 % (± 95% CI) | ... |`; a number cell reads
`71.3 ± 2.4` (percent, mean ± CI half-width) or `71.3` (one seed).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

KEY_COLUMNS = ("protocol", "method", "dataset")
_NUMBER = re.compile(r"^\s*(-?\d+(?:\.(\d+))?)\s*(?:±\s*(-?\d+(?:\.\d+)?))?\s*$")


@dataclass
class Cell:
    protocol: str
    method: str
    dataset: str
    column: str
    text: str
    mean: float  # as printed (percent)
    half_width: float | None
    decimals: int

    @property
    def name(self) -> str:
        return f"{self.protocol}/{self.method}/{self.dataset} [{self.column}]"


def parse_number(text: str) -> tuple[float, float | None, int] | None:
    m = _NUMBER.match(text)
    if not m:
        return None
    return float(m.group(1)), (float(m.group(3)) if m.group(3) else None), len(m.group(2) or "")


def read_cells(table_md: str | Path, column_prefix: str = "top-1") -> list[Cell]:
    """The `column_prefix` cell of every row, with its key; raises ValueError on a malformed table."""
    lines = [ln.strip() for ln in Path(table_md).read_text().splitlines() if ln.strip().startswith("|")]
    if len(lines) < 2:
        raise ValueError(f"{table_md}: no markdown table found")
    split = lambda ln: [c.strip() for c in ln.strip().strip("|").split("|")]  # noqa: E731
    head = split(lines[0])
    missing = [k for k in KEY_COLUMNS if k not in head]
    if missing:
        raise ValueError(f"{table_md}: header lacks columns {missing}; got {head}")
    cols = [i for i, h in enumerate(head) if h.lower().startswith(column_prefix)]
    if not cols:
        raise ValueError(f"{table_md}: no column starting with {column_prefix!r} in {head}")
    col = cols[0]
    cells = []
    for ln in lines[2:]:
        row = split(ln)
        if len(row) != len(head):
            raise ValueError(f"{table_md}: row has {len(row)} cells, header {len(head)}: {ln}")
        key = {k: row[head.index(k)] for k in KEY_COLUMNS}
        num = parse_number(row[col])
        if num is None:
            if row[col] == "":
                continue
            raise ValueError(f"{table_md}: cell {key} {head[col]!r} is not a number: {row[col]!r}")
        cells.append(Cell(**key, column=head[col], text=row[col], mean=num[0], half_width=num[1],
                          decimals=num[2]))
    return cells
