"""`cosim` command line: a thin layer over the Python API.

Each subcommand is one module in this package exposing NAME, HELP, add_arguments(parser) and
run(args) -> exit code. A bad input file is reported as one message and exit code 2.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from cosim.specs.base import SpecError

# Modules of cosim.cli, one per subcommand, in the order `cosim --help` lists them.
COMMAND_MODULES = ["run", "cost", "validate", "gpu_cost", "sweep", "report", "compare"]
EXIT_BAD_INPUT = 2


class UsageError(Exception):
    """A command-line value that is wrong in a way argparse cannot check (e.g. an unknown method)."""


def build_parser() -> argparse.ArgumentParser:
    from cosim import __version__
    parser = argparse.ArgumentParser(prog="cosim", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"cosim {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"cosim.cli.{name}")
        sub = commands.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(handler=getattr(module, "run_command", None) or module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return int(args.handler(args) or 0)
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
