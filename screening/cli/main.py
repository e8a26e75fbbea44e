"""Entry point of the ``screening`` command: builds the parser from the subcommand modules and dispatches."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from screening import __version__

#: Subcommand modules under ``screening.cli``, in ``--help`` order. Each defines
#: ``register(subparsers) -> argparse.ArgumentParser`` and ``run(args) -> int``;
#: heavy imports stay inside ``run`` so that ``--help`` is fast.
COMMANDS: tuple[str, ...] = (
    "run",
    "scan",
    "simulate",
    "train",
    "evaluate",
    "calibrate",
    "bench",
    "console",
    "batch",
)


def _available_commands() -> list[tuple[str, object]]:
    found = []
    for name in COMMANDS:
        modname = f"screening.cli.{name}"
        try:
            module = importlib.import_module(modname)
        except ModuleNotFoundError as err:
            if err.name == modname:  # not written yet; any other missing module is a real error
                continue
            raise
        found.append((name, module))
    return found


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (used by ``main`` and by tests)."""
    parser = argparse.ArgumentParser(
        prog="screening",
        description="Baggage X-ray/CT screening pipeline.",
        epilog="Example: screening scan bag.dcs --out results/   (run 'screening COMMAND --help' for more)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"screening {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for _name, module in _available_commands():
        sp = module.register(sub)  # type: ignore[attr-defined]
        sp.set_defaults(_run=module.run)  # type: ignore[attr-defined]
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI. Returns the process exit code (0 ok, 1 some input failed, 2 usage error)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return 2
    return int(args._run(args))


if __name__ == "__main__":
    sys.exit(main())
