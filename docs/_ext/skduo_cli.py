"""The command-line reference and the example report, built from the code.

Two pieces, both offline:

* ``.. skduo-cli::`` renders every sub-command of ``python -m skduo`` from the
  argument parser that the command itself builds: usage, description and one
  ``.. option::`` entry per argument (so that ``:option:`python -m skduo
  evaluate --ood``` links to it). The parser is taken from a dry run of the
  command's entry point (``skduo.__main__.main``) whose ``parse_args`` is
  intercepted, so the reference follows the command wherever its code lives.
* ``run_example_report`` (``builder-inited``) runs ``python -m skduo evaluate``
  on the example zoo shipped in ``docs/data/digits_zoo`` at 88 columns and
  stores its standard output and plots in ``docs/generated/cli/``; the pages
  include them with ``literalinclude`` and ``image``, so the report shown is
  the one the installed code prints today.
"""

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

logger = logging.getLogger(__name__)

#: the width of the example report: a code block of the docs holds 88 columns
REPORT_COLUMNS = 88
#: the command shown (and run) on the shipped zoo, from docs/generated/cli
REPORT_ARGS = ["evaluate", "digits_zoo", "--budget", "25", "--output", "report"]


class _Captured(Exception):
    def __init__(self, parser):
        super().__init__("parser captured")
        self.parser = parser


def command_parser():
    """The ``argparse`` parser that ``python -m skduo`` builds."""
    import importlib

    entry = importlib.import_module("skduo.__main__")
    original = argparse.ArgumentParser.parse_args

    def capture(self, *args, **kwargs):
        raise _Captured(self)

    argparse.ArgumentParser.parse_args = capture
    try:
        entry.main([])
    except _Captured as captured:
        return captured.parser
    finally:
        argparse.ArgumentParser.parse_args = original
    raise RuntimeError("python -m skduo did not build an argument parser")


_RST_SPECIAL = re.compile(r"([\\`*|_])")
_OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z-]*)")


def _text(value, options=()):
    """Plain text as reST, one line: markup characters escaped, and each
    ``--option`` of ``options`` a link to its entry (others literal), so that
    no ``--`` becomes a dash."""
    text = _RST_SPECIAL.sub(r"\\\1", " ".join(str(value).split()))

    def option(match):
        name = match.group(1)
        return f":option:`{name}`" if name in options else f"``{name}``"

    return _OPTION.sub(option, text)


def _option_names(action):
    """The option directive's signature, e.g. ``--budget PCT`` or ``path``."""
    if not action.option_strings:
        return action.metavar or action.dest
    if action.nargs == 0:
        return ", ".join(action.option_strings)
    if action.metavar is not None:
        metavar = action.metavar
    elif action.choices is not None:
        metavar = "{" + ",".join(map(str, action.choices)) + "}"
    else:
        metavar = action.dest.upper()
    return ", ".join(f"{name} {metavar}" for name in action.option_strings)


def _help(parser, action):
    formatter = parser._get_formatter()
    with contextlib.suppress(Exception):
        return formatter._expand_help(action)
    return action.help or ""


def _usage(parser):
    """``usage:`` without its prefix, wrapped at 80 columns."""
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "80"
    try:
        usage = parser.format_usage().rstrip()
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous
    prefix = "usage: "
    return "\n".join(
        line[len(prefix) :] if line.startswith(" " * len(prefix)) else line
        for line in usage[len(prefix) :].splitlines()
    )


def _subcommand_lines(prog, parser):
    lines = [f".. program:: {prog}", ""]
    usage = _usage(parser)
    lines += [".. code-block:: none", ""]
    lines += ["   " + line for line in usage.splitlines()] + [""]
    options = {name for a in parser._actions for name in a.option_strings}
    if parser.description:
        lines += [_text(parser.description, options), ""]
    groups = [
        ("Positional arguments", [a for a in parser._actions if not a.option_strings]),
        (
            "Options",
            [
                a
                for a in parser._actions
                if a.option_strings and not isinstance(a, argparse._HelpAction)
            ],
        ),
    ]
    for title, actions in groups:
        if not actions:
            continue
        lines += [f".. rubric:: {title}", ""]
        for action in actions:
            lines += [f".. option:: {_option_names(action)}", ""]
            lines += ["   " + _text(_help(parser, action), options), ""]
            if action.choices is not None and action.metavar is not None:
                choices = ", ".join(f"``{c}``" for c in action.choices)
                lines += [f"   One of {choices}.", ""]
    if parser.epilog:
        lines += [".. rubric:: Input", "", _text(parser.epilog, options), ""]
    return lines


class SkduoCliDirective(SphinxDirective):
    """``.. skduo-cli::``: one section per sub-command of ``python -m skduo``."""

    has_content = False

    def run(self):
        parser = command_parser()
        sub = next(
            a for a in parser._actions if isinstance(a, argparse._SubParsersAction)
        )
        lines = [".. code-block:: none", ""]
        lines += ["   " + line for line in _usage(parser).splitlines()]
        lines += ["", _text(parser.description), ""]
        for name, subparser in sub.choices.items():
            prog = f"python -m skduo {name}"
            title = prog
            lines += [title, "-" * len(title), ""]
            lines += _subcommand_lines(prog, subparser)
        container = nodes.section()
        container.document = self.state.document
        nested_parse_with_titles(
            self.state, StringList(lines, source="python -m skduo --help"), container
        )
        return container.children


def run_example_report(app):
    """Run ``python -m skduo evaluate`` on the shipped zoo; keep text and plots."""
    src = Path(app.srcdir)
    out = src / "generated" / "cli"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    shutil.copytree(src / "data" / "digits_zoo", out / "digits_zoo")
    env = dict(
        os.environ,
        COLUMNS=str(REPORT_COLUMNS),
        PYTHONPATH=os.pathsep.join(
            [str(src.parent), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
        MPLBACKEND="Agg",
    )
    done = subprocess.run(
        [sys.executable, "-m", "skduo", *REPORT_ARGS],
        cwd=out,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        logger.warning(
            "python -m skduo %s failed (%d): %s",
            " ".join(REPORT_ARGS),
            done.returncode,
            done.stderr.strip()[-2000:],
        )
    command = "$ python -m skduo " + " ".join(REPORT_ARGS)
    (out / "evaluate.txt").write_text(command + "\n" + done.stdout)
    for name in ("report.csv", "report.json"):
        if (out / "report" / name).exists():
            (out / name).write_bytes((out / "report" / name).read_bytes())


def setup(app):
    app.add_directive("skduo-cli", SkduoCliDirective)
    app.connect("builder-inited", run_example_report)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
