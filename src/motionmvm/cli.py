"""`motionmvm <step> ...`: one sub-command per pipeline step.

Each package area (data, motion, masking, ...) may define a module `<area>/cli.py` with a function
`register(subparsers)` that adds its sub-commands; they are discovered here so adding a step never
touches this file. Handlers import their heavy dependencies lazily to keep `--help` fast.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import motionmvm
from motionmvm.common_args import add_config_args, load_config
from motionmvm.config import ConfigError
from motionmvm.data.store import StoreError


def _discover(subparsers) -> None:
    for mod in sorted(pkgutil.iter_modules(motionmvm.__path__), key=lambda m: m.name):
        if not mod.ispkg:
            continue
        try:
            cli = importlib.import_module(f"motionmvm.{mod.name}.cli")
        except ModuleNotFoundError as exc:
            if exc.name == f"motionmvm.{mod.name}.cli":
                continue
            raise
        cli.register(subparsers)


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
    _discover(subparsers)
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
