"""The CLI's help renders for the top level and every sub-command (argparse formats help strings
with %, so a stray "95%" only fails when someone asks for --help)."""
import argparse

import pytest

from motionmvm.cli import build_parser


def _subcommands(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield name, sub
                for nested, subsub in _subcommands(sub):
                    yield f"{name} {nested}", subsub


def test_top_level_help_renders():
    assert "pretrain" in build_parser().format_help()


@pytest.mark.parametrize("name", [name for name, _ in _subcommands(build_parser())])
def test_every_subcommand_help_renders(name):
    sub = dict(_subcommands(build_parser()))[name]
    assert sub.format_help()
