"""Reproduction experiments: one file per paper setting, `experiments/<name>.yaml`.

An experiment names the paper's data, model, recipe and protocol and the numbers the paper reports
for them (with table and section), so the report can put *reported* beside *reproduced*:

    name, paper {id, title, venue, file}, description
    shape:    params that fix what runs, applied in every profile (so a smoke dry run builds the
              same DAG shape on fixture datasets): `experiment` (methods, pretrain_dataset,
              eval_datasets, seeds) and the protocol choices under `eval` (reference_methods,
              fewshot.datasets, domain_adapt.pairs, mar.mask_percents)
    recipe:   params of the paper's recipe (model, pretrain, eval, masking, targets), applied in
              the `paper` profile only (smoke and small keep their sizes)
    reported: rows {protocol, method, dataset, top1 (%), table, section, setting}

`shared_budget` is the comparison params.yaml's own `experiment:` section describes; it has no file.
The schema is workflow/schemas/experiment.schema.yaml.
"""
from __future__ import annotations

from pathlib import Path

SHARED = "shared_budget"
# params keys a shape may set; DVC reads these from params.yaml (dvc.yaml templates), so
# `dvc_overrides` writes exactly these
SHAPE_KEYS = {"experiment": ("seeds", "methods", "pretrain_dataset", "eval_datasets"),
              "eval": ("reference_methods", "linear_probe", "fewshot", "domain_adapt", "mar")}


def directory(params_path: str | Path = "params.yaml") -> Path:
    return Path(params_path).resolve().parent / "experiments"


def names(params_path: str | Path = "params.yaml") -> list[str]:
    return [SHARED] + sorted(p.stem for p in directory(params_path).glob("*.yaml"))


def load(name: str, params_path: str | Path = "params.yaml") -> dict:
    """The validated experiment file `experiments/<name>.yaml`."""
    from motionmvm.config import ConfigError, read_yaml, schema_dir, validate

    path = directory(params_path) / f"{name}.yaml"
    if not path.exists():
        raise ConfigError(f"experiment: {name!r} is not allowed; allowed values are {names(params_path)}")
    exp = read_yaml(path) or {}
    schema = read_yaml(schema_dir(params_path) / "experiment.schema.yaml")
    validate(exp, schema, where=f"experiment file {path}")
    if exp["name"] != name:
        raise ConfigError(f"{path}: name {exp['name']!r} must be the file name {name!r}")
    return exp


def _shape_params(exp: dict) -> dict:
    """The shape as a params override: {experiment: {...}, eval: {...}} with the name set. The
    linear probe runs on the experiment's evaluation datasets (eval.linear_probe.datasets), not on
    the profile's own list (the embedded benchmark's in smoke and small)."""
    shape = exp["shape"]
    ev = dict(shape.get("eval") or {})
    ev["linear_probe"] = {"datasets": list(shape["experiment"]["eval_datasets"])}
    return {"experiment": {**shape["experiment"], "name": exp["name"]}, "eval": ev}


def apply(cfg: dict, raw: dict, params_path: str | Path, name: str | None) -> dict:
    """`cfg` (one profile, merged) with experiment `name` applied (default: raw experiment.name).

    A name taken from params.yaml itself (the DVC route, `dvc exp run -S ...`) must come with the
    shape written into params.yaml, since dvc.yaml's templates read those keys there.
    """
    from motionmvm.config import ConfigError, deep_merge

    chosen = name or (raw.get("experiment") or {}).get("name") or SHARED
    if chosen == SHARED:
        if name and (raw.get("experiment") or {}).get("name", SHARED) != SHARED:
            raise ConfigError(f"experiment: {SHARED} selected but params.yaml's experiment section "
                              f"is {raw['experiment']['name']!r}; restore params.yaml's shared-budget section")
        cfg["experiment"] = {**cfg["experiment"], "name": SHARED}
        return cfg
    exp = load(chosen, params_path)
    over = _shape_params(exp)
    if name is None:
        stale = [f"{sec}.{k}" for sec, keys in SHAPE_KEYS.items() for k in keys
                 if k in over.get(sec, {}) and _differs((raw.get(sec) or {}).get(k), over[sec][k])]
        if stale:
            raise ConfigError(f"experiment {chosen}: params.yaml keys {stale} differ from experiments/{chosen}.yaml; "
                              f"set them with `dvc exp run $(motionmvm experiment dvc-args {chosen})`")
    cfg = deep_merge(cfg, over)
    if cfg["profile"] == "paper":
        cfg = deep_merge(cfg, exp.get("recipe") or {})
    return cfg


def _differs(have, want) -> bool:
    """True when `have` does not hold `want` (dicts: only the keys `want` sets)."""
    if isinstance(want, dict):
        return not isinstance(have, dict) or any(_differs(have.get(k), v) for k, v in want.items())
    return have != want


def dvc_overrides(name: str, profile: str, params_path: str | Path = "params.yaml") -> list[str]:
    """`dvc exp run -S` arguments that write experiment `name`'s shape into params.yaml (the keys
    dvc.yaml templates read), so DVC builds the same stages as `snakemake --config experiment=`.
    Values are in DVC's (Hydra's) override syntax without spaces or quotes, so that the output
    can be used as `dvc exp run $(motionmvm experiment dvc-args NAME)`."""
    if name == SHARED:
        raise ValueError(f"{SHARED} is params.yaml's own experiment section: run `dvc repro`")
    over = _shape_params(load(name, params_path))
    sets = [f"profile={profile}", f"experiment.name={name}"]
    for sec, keys in SHAPE_KEYS.items():
        for k in keys:
            if k in over.get(sec, {}):
                sets += _leaves(f"{sec}.{k}", over[sec][k])
    return [a for s in sets for a in ("-S", s)]


def _leaves(key: str, value) -> list[str]:
    """Dicts become one override per leaf (DVC's -S merges leaves); lists and scalars whole."""
    if isinstance(value, dict):
        return [o for k, v in value.items() for o in _leaves(f"{key}.{k}", v)]
    return [f"{key}={_hydra(value)}"]


def _hydra(value) -> str:
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_hydra(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_hydra(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def datasets_used(cfg: dict) -> list[str]:
    """Every dataset the resolved configuration's DAG reads, in first-use order."""
    exp, ev = cfg["experiment"], cfg["eval"]
    pairs = [d for p in ev["domain_adapt"]["pairs"] for d in (p["source"], p["target"])]
    return list(dict.fromkeys([exp["pretrain_dataset"], *exp["eval_datasets"], *ev["linear_probe"]["datasets"],
                               *ev["fewshot"]["datasets"], *pairs]))


def missing_datasets(cfg: dict) -> list[str]:
    """One note per real dataset of `cfg`'s DAG that `motionmvm prepare` cannot produce yet."""
    from motionmvm.datasets import NAMES
    from motionmvm.datasets.prepare import missing_by_hand

    notes = [missing_by_hand(d, cfg) for d in datasets_used(cfg) if d in NAMES]
    return [n for n in notes if n]


def reported(name: str, params_path: str | Path = "params.yaml") -> list[dict]:
    """The reported rows of experiment `name` (none for the shared-budget comparison)."""
    return [] if name == SHARED else list(load(name, params_path)["reported"])
