"""Load params.yaml, apply the active profile, validate against the schema.

params.yaml holds base values per section plus `profiles: {smoke, small, paper}` whose entries
override the base (deep merge). The shape of the experiment (methods, seeds, datasets) is top-level
and shared by all profiles so that the Snakemake DAG and the DVC pipeline have one fixed shape.
Every bad value is refused before any job starts, with the key path and the allowed values.
"""
from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml

PROFILES = ("smoke", "small", "paper", "bench")


class ConfigError(ValueError):
    """A parameter file that does not match the schema."""


# The project this package belongs to (src/motionmvm/config.py -> the repository root).
PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_SUBDIR = Path("workflow") / "schemas"


def repo_root(params_path: str | Path = "params.yaml") -> Path:
    return Path(params_path).resolve().parent


def schema_dir(params_path: str | Path = "params.yaml") -> Path:
    """The schemas of the project a params file belongs to: beside it when it lies in a copy of the
    project (a test or `dvc exp` copy carries its own), else this package's project, so that a
    params file kept anywhere else (`--params ~/exp/params.yaml`) is still checked."""
    for root in (repo_root(params_path), PROJECT_ROOT):
        if (root / SCHEMA_SUBDIR / "params.schema.yaml").is_file():
            return root / SCHEMA_SUBDIR
    raise ConfigError(f"no parameter schema in {repo_root(params_path) / SCHEMA_SUBDIR} or "
                      f"{PROJECT_ROOT / SCHEMA_SUBDIR}: run from a checkout of the project (pip install -e .)")


def read_yaml(path: str | Path):
    """A YAML file's data, parsed by libyaml (PyYAML's C loader, ~10x the pure-Python one: every
    step reads params.yaml and the schemas, dvc.lock is large)."""
    return yaml.load(Path(path).read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def load_schema(params_path: str | Path = "params.yaml") -> dict:
    """The top-level schema plus one file per section (workflow/schemas/sections/*.yaml)."""
    sdir = schema_dir(params_path)
    schema = read_yaml(sdir / "params.schema.yaml")
    for part in sorted((sdir / "sections").glob("*.schema.yaml")):
        name = part.name.split(".")[0]
        schema["properties"][name] = read_yaml(part)
    return schema


def deep_merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _format_error(err: jsonschema.ValidationError) -> str:
    path = ".".join(str(p) for p in err.absolute_path) or "<top level>"
    if err.validator == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        extra = sorted(set(err.instance) - set(allowed))
        return f"unknown key {path + '.' if path != '<top level>' else ''}{extra[0]}: allowed keys are {allowed}"
    if err.validator == "enum":
        return f"{path}: {err.instance!r} is not allowed; allowed values are {err.validator_value}"
    if err.validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        lo, hi = err.schema.get("minimum"), err.schema.get("maximum")
        return f"{path}: {err.instance!r} is out of range [{lo}, {hi}]"
    if err.validator == "type":
        return f"{path}: expected {err.validator_value}, got {type(err.instance).__name__} {err.instance!r}"
    return f"{path}: {err.message}"


def validate(cfg: dict, schema: dict, where: str = "params") -> None:
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(cfg), key=lambda e: list(e.absolute_path))
    if errors:
        lines = "\n  ".join(_format_error(e) for e in errors)
        raise ConfigError(f"invalid {where}:\n  {lines}")


def load(params_path: str | Path = "params.yaml", profile: str | None = None,
         overrides: dict | None = None, experiment: str | None = None) -> dict[str, Any]:
    """Resolved, validated configuration for one profile and one experiment.

    The raw file is validated first (so a typo inside a profile override is caught too), then the
    merged result. `experiment` (default: params `experiment.name`) selects a reproduction
    experiment `experiments/<name>.yaml` (motionmvm.experiments): its shape replaces the
    `experiment:` section and the protocol choices, its recipe applies in the paper profile.
    """
    params_path = Path(params_path)
    if not params_path.exists():
        raise ConfigError(f"no parameter file at {params_path}")
    raw = read_yaml(params_path) or {}
    if overrides:
        raw = deep_merge(raw, overrides)
    schema = load_schema(params_path)
    profile = profile or raw.get("profile", "small")
    if profile not in PROFILES:
        raise ConfigError(f"profile: {profile!r} is not allowed; allowed values are {list(PROFILES)}")
    profiles = raw.get("profiles", {})
    base = {k: v for k, v in raw.items() if k != "profiles"}
    # Each profile override must itself only use known keys with valid types.
    for name, over in profiles.items():
        if name not in PROFILES:
            raise ConfigError(f"profiles: {name!r} is not allowed; allowed values are {list(PROFILES)}")
        validate(deep_merge(base, over or {}), schema, where=f"params (profile {name})")
    cfg = deep_merge(base, profiles.get(profile, {}))
    cfg["profile"] = profile
    from motionmvm import experiments  # here: experiments validates with this module's helpers

    cfg = experiments.apply(cfg, raw, params_path, experiment)
    validate(cfg, schema, where=f"params (profile {profile}, experiment {cfg['experiment'].get('name')})")
    _check_seed_plan(cfg)
    return cfg


def encoder_methods(cfg: dict) -> list[str]:
    """The entries whose encoders every protocol evaluates: the pretraining methods, then the
    imported checkpoints (`experiment.imported`), which must not reuse a method's name."""
    exp = cfg["experiment"]
    imported = list(exp.get("imported") or {})
    taken = set(exp["methods"]) | set(cfg.get("eval", {}).get("reference_methods", []))
    clash = sorted(taken & set(imported))
    if clash:
        raise ConfigError(f"experiment.imported: {clash[0]!r} is already a method name; rename the entry "
                          "(e.g. videomae-official)")
    return list(exp["methods"]) + imported


def planned_seeds(cfg: dict, protocol: str, method: str) -> list[int]:
    """The experiment's seeds that a (protocol, method) cell runs on: all of them, unless params
    `eval.seed_plan` lists seeds for the protocol or the (reference) method; then those (the
    intersection where both are listed). Snakemake, dvc.yaml, the aggregate and the audit read
    this one plan."""
    seeds = sorted(cfg["experiment"]["seeds"])
    plan = cfg.get("eval", {}).get("seed_plan") or {}
    for key in (protocol, method):
        if key in plan:
            seeds = [s for s in seeds if s in plan[key]]
    return seeds


def _check_seed_plan(cfg: dict) -> None:
    seeds = set(cfg["experiment"]["seeds"])
    for key, listed in (cfg.get("eval", {}).get("seed_plan") or {}).items():
        extra = sorted(set(listed) - seeds)
        if extra:
            raise ConfigError(f"eval.seed_plan.{key}: seeds {extra} are not experiment seeds "
                              f"{sorted(seeds)}; list some of those")


# Sections that change how results are shown or dispatched, never what they are: a new plot
# resolution or SLURM partition must not mark every metrics file stale.
PRESENTATION_SECTIONS = ("report", "launch")


def params_hash(cfg: dict) -> str:
    """Stable sha256 of a resolved configuration (provenance identity of the parameters),
    leaving out PRESENTATION_SECTIONS."""
    cfg = {k: v for k, v in cfg.items() if k not in PRESENTATION_SECTIONS}
    blob = json.dumps(cfg, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()
