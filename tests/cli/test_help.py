"""``nexus-lab ... --help``: every argument says what it is, and the text reads as written."""

from __future__ import annotations

import argparse

from nexus_lab.cli import _parser

_SELF_EXPLAINED = (argparse._HelpAction, argparse._VersionAction)


def _walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _walk(sub, (*path, name))


def test_every_command_argument_and_option_has_help():
    missing, commands = [], 0
    for path, parser in _walk(_parser()):
        commands += 1
        where = " ".join(("nexus-lab", *path))
        for action in parser._actions:
            if isinstance(action, _SELF_EXPLAINED):
                continue
            if isinstance(action, argparse._SubParsersAction):
                missing += [f"{where} {c.dest}" for c in action._choices_actions if not c.help]
            elif not action.help:
                missing.append(f"{where} {'/'.join(action.option_strings) or action.dest}")
    assert commands > 25
    assert not missing, "no help text: " + ", ".join(missing)


def test_rendered_help_has_no_doubled_percent_signs():
    doubled = [" ".join(path) for path, parser in _walk(_parser())
               if "%%" in parser.format_help()]
    assert not doubled, f"'%%' shows in the help of: {doubled}"
    train = dict(_walk(_parser()))[("fraud", "train")].format_help()
    assert "precision at 1% false positives" in train
