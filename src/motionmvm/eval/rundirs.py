"""Run directories `<root>/<name>/.../seed<S>/metrics.json`, read by the aggregate and the gates."""
from __future__ import annotations

import re
from pathlib import Path

from motionmvm.io import read_json

_SEED_DIR = re.compile(r"^seed(\d+)$")


def by_seed(root: str | Path, levels: int) -> dict[tuple[str, ...], dict[int, dict]]:
    """{(the `levels` directory names above seed<S>): {seed: metrics}} under `root`."""
    out: dict = {}
    for path in sorted(Path(root).glob("*/" * levels + "seed*/metrics.json")):
        m = _SEED_DIR.match(path.parent.name)
        if m:
            out.setdefault(path.parts[-2 - levels:-2], {})[int(m.group(1))] = read_json(path)
    return out
