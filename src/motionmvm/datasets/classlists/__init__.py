"""Class lists of the partial domain adaptation pairs (data files beside this module).

A pair `<source>-to-<target>` of real datasets trains on the listed source classes (in the file's
label order) and tests on the target's test clips of the classes that have a counterpart; a target
class is scored as its source class, so label mapping goes by exact class names on both sides.
Synthetic pairs (synth-to-synth_b) need no file: their classes share names.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path


@dataclass(frozen=True)
class ClassList:
    """source[i]: source class of label i; target[i]: its target class, or None (source-only)."""

    pair: str
    source: tuple[str, ...]
    target: tuple[str | None, ...]

    def source_map(self) -> dict[str, str]:
        """Source dataset class -> label name (the source class itself)."""
        return {s: s for s in self.source}

    def target_map(self) -> dict[str, str]:
        """Target dataset class -> the source class it is scored as."""
        return {t: s for s, t in zip(self.source, self.target) if t is not None}


def pair_name(source: str, target: str) -> str:
    return f"{source}-to-{target}"


def path(pair: str) -> Path:
    return Path(str(resources.files(__name__) / f"{pair}.txt"))


def available() -> list[str]:
    return sorted(p.name[:-4] for p in resources.files(__name__).iterdir() if p.name.endswith(".txt"))


def parse(text: str, pair: str) -> ClassList:
    """Rows `<id> <source class> <target class | ->`; ids must run 0..N-1 in order."""
    rows = [ln.split() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    bad = [r for r in rows if len(r) != 3]
    if bad:
        raise ValueError(f"class list {pair}: rows need '<id> <source class> <target class or ->', got {bad[0]}")
    if [int(r[0]) for r in rows] != list(range(len(rows))):
        raise ValueError(f"class list {pair}: ids must run 0..{len(rows) - 1} in order")
    source = tuple(r[1] for r in rows)
    target = tuple(None if r[2] == "-" else r[2] for r in rows)
    for side, names in (("source", source), ("target", [t for t in target if t])):
        if len(set(names)) != len(names):
            raise ValueError(f"class list {pair}: a {side} class is listed twice")
    return ClassList(pair, source, target)


def load(pair: str) -> ClassList | None:
    """The class list of `pair`, or None when the pair has none (synthetic pairs)."""
    p = path(pair)
    return parse(p.read_text(), pair) if p.exists() else None


def check_against(mapping: dict[str, str], dataset_classes: list[str], pair: str, side: str,
                  dataset_dir: str | Path) -> None:
    """Every listed class must be a class of the dataset, spelt exactly as in its classInd.txt."""
    missing = sorted(set(mapping) - set(dataset_classes))
    if missing:
        raise ValueError(f"class list {pair}: {side} classes {missing} are not in {dataset_dir}/classInd.txt "
                         f"(names must match exactly; fix {path(pair)} or prepare the dataset again)")
