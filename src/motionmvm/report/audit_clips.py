"""Which clips a run must have scored, recomputed from the dataset's manifest and params.

A run's predictions.csv must hold, once each, the usable (manifest status "ok") clips of the
scored split, subsampled with the protocol's rule when params cap the clip count, less clips that
really fail to decode (listed in metrics.json `quarantined`); its labels must be the manifest's
and its probability columns the dataset's classes in classInd.txt order. Few-shot draws must be
the seeded draw rule's shots, and each draw's test set the rest of the split.
The selection rules are those of `motionmvm.data.clips.load_bank` and
`motionmvm.eval.probe.draw_shots`, written out again so a change there is caught here.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from motionmvm.data.video import VideoError, read_frames


class DatasetView:
    """manifest.jsonl entries (file order = the evaluation's bank order) and classInd.txt."""

    def __init__(self, ddir: Path):
        self.dir = ddir
        self.entries = [json.loads(ln) for ln in (ddir / "manifest.jsonl").read_text().splitlines() if ln.strip()]
        self.by_id = {e["clip_id"]: e for e in self.entries}
        rows = sorted((int(i), n.strip()) for i, n in (ln.split(maxsplit=1) for ln in
                      (ddir / "classInd.txt").read_text().splitlines() if ln.strip()))
        self.classes = [n for _, n in rows]
        self.problems = [f"{ddir}/classInd.txt disagrees with the manifest: {e['clip_id']} has label "
                         f"{e['label']} {e['label_name']!r}" for e in self.entries
                         if e["label_name"] not in self.classes or self.classes.index(e["label_name"]) != e["label"]][:3]
        self._decodes: dict[str, bool] = {}

    def has_split(self, split: str) -> bool:
        return any(e["split"] == split for e in self.entries)

    def quarantined(self, split: str) -> set[str]:
        return {e["clip_id"] for e in self.entries if e["split"] == split and e["status"] != "ok"}

    def selected(self, split: str, max_clips: int, seed: int) -> list[dict]:
        """Usable clips of `split`; at most max_clips (0 = all): a seeded permutation, queues per
        class (sorted by name), taken round-robin from each queue's end, kept in manifest order."""
        ok = [e for e in self.entries if e["split"] == split and e["status"] == "ok"]
        if not max_clips or len(ok) <= max_clips:
            return ok
        queues: dict[str, list[int]] = {}
        for i in np.random.default_rng(seed).permutation(len(ok)):
            queues.setdefault(ok[i]["label_name"], []).append(int(i))
        pick, order = [], [queues[c] for c in sorted(queues)]
        while len(pick) < max_clips:
            for q in order:
                if q and len(pick) < max_clips:
                    pick.append(q.pop())
        return [ok[i] for i in sorted(pick)]

    def fails_to_decode(self, clip_id: str) -> bool:
        """Whether the claim "failed to decode at evaluation" holds for this clip (decoded anew)."""
        if clip_id not in self._decodes:
            try:
                read_frames(self.dir / self.by_id[clip_id]["path"])
                self._decodes[clip_id] = False
            except (VideoError, OSError):
                self._decodes[clip_id] = True
        return self._decodes[clip_id]


def bank(view: DatasetView, split: str, max_clips: int, seed: int, listed: set[str]) -> tuple[list[dict], list[str]]:
    """(the clips a ClipBank holds, problems): the selection less the clips listed as quarantined
    whose decode failure is real; a listed clip that decodes is a problem (it was dropped)."""
    kept, problems = [], []
    for e in view.selected(split, max_clips, seed):
        if e["clip_id"] in listed:
            if view.fails_to_decode(e["clip_id"]):
                continue
            problems.append(f"{e['clip_id']} is listed as quarantined but the manifest has it usable and it "
                            "decodes (a scored clip was dropped)")
        kept.append(e)
    return kept, problems


def draw_rule(labels: list[int], k: int, num_classes: int, seed: int, draw: int) -> list[int]:
    """Indices of k clips per class (class order), each class's drawn without replacement from
    rng([seed, draw]) among its clips in bank order, sorted."""
    rng = np.random.default_rng([seed, draw])
    lab = np.asarray(labels)
    out = []
    for c in range(num_classes):
        pool = np.flatnonzero(lab == c)
        if len(pool) < k:
            raise ValueError(f"class {c} has {len(pool)} clips, fewer than k={k}")
        out += sorted(int(i) for i in rng.choice(pool, size=k, replace=False))
    return out


def coverage(scored: list[str], expected: list[str], what: str, view: DatasetView | None = None) -> list[str]:
    """Problems of `scored` (clip ids, in file order) against the clips `expected`, once each;
    `view` names the split an unexpected clip comes from."""
    problems = []
    seen: dict[str, int] = {}
    for c in scored:
        seen[c] = seen.get(c, 0) + 1
    dup = sorted(c for c, n in seen.items() if n > 1)
    if dup:
        problems.append(f"{len(dup)} clips scored more than once in {what} (e.g. {dup[:3]}; duplicated clips)")
    want = set(expected)
    missing = [c for c in expected if c not in seen]
    extra = sorted(c for c in seen if c not in want)
    if missing:
        problems.append(f"{len(missing)} of the {len(want)} clips of {what} are missing (e.g. {missing[:3]}; "
                        + ("other clips were scored)" if extra else "a subset was scored)"))
    if extra:
        splits = sorted({view.by_id[c]["split"] for c in extra if c in view.by_id}) if view else []
        where = f"; from split {', '.join(splits)}" if splits else ""
        problems.append(f"{len(extra)} scored clips are not among the {len(want)} clips of {what} (e.g. {extra[:3]}{where})")
    return problems
