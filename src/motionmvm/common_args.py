"""Arguments every step shares: the parameter file, the profile and the experiment."""
from __future__ import annotations

import argparse

from motionmvm import config


def add_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", default="params.yaml", help="parameter file (default: params.yaml)")
    parser.add_argument("--profile", default=None, help="smoke | small | paper | bench (default: the file's `profile`)")
    parser.add_argument("--experiment", default=None,
                        help="reproduction experiment experiments/<name>.yaml or shared_budget "
                             "(default: params `experiment.name`)")


def load_config(args: argparse.Namespace) -> dict:
    return config.load(args.params, args.profile, experiment=getattr(args, "experiment", None))
