"""Arguments every step shares: the parameter file and the profile."""
from __future__ import annotations

import argparse

from motionmvm import config


def add_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", default="params.yaml", help="parameter file (default: params.yaml)")
    parser.add_argument("--profile", default=None, help="smoke | small | paper | bench (default: the file's `profile`)")


def load_config(args: argparse.Namespace) -> dict:
    return config.load(args.params, args.profile)
