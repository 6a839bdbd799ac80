"""`motionmvm <step> ...`: one sub-command per pipeline step.

Each package area with commands defines `<area>/cli.py` with a function `register(subparsers)`
that adds its sub-commands; `CLI_AREAS` lists them (a new area with commands is added there).
Handlers import their heavy dependencies lazily to keep `--help` fast.
"""
from __future__ import annotations

import argparse
import importlib
import sys

import motionmvm
from motionmvm.common_args import add_config_args, load_config
from motionmvm.config import ConfigError
from motionmvm.data.store import StoreError

# Package areas that define `<area>/cli.py` (alphabetical: the order of `motionmvm --help`).
CLI_AREAS = ("data", "datasets", "eval", "interop", "launch", "masking", "motion", "report", "tokenizer", "train")


def _register_areas(subparsers) -> None:
    for area in CLI_AREAS:
        importlib.import_module(f"motionmvm.{area}.cli").register(subparsers)


def _config_command(args) -> int:
    """Validate params.yaml and print the resolved configuration of one profile."""
    import yaml

    print(yaml.safe_dump(load_config(args), sort_keys=False), end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="motionmvm", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=motionmvm.__version__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    show = subparsers.add_parser("config", help="validate params.yaml and print the resolved profile")
    add_config_args(show)
    show.set_defaults(func=_config_command)
    _register_areas(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"motionmvm: {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:  # a clip store missing or stale: the message names the step to run
        print(f"motionmvm: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
