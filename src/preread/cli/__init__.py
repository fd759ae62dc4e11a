"""The ``preread`` command: a thin layer over the library.

Each command family lives in its own module and registers itself on ``app``.
Errors are mapped to exit codes here, in one place: ``PrereadError.exit_code``
(see ``preread.errors``), 2 for usage errors, 130 for Ctrl-C. Errors print one
line on stderr; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import sys
import traceback

import typer
from typer.main import get_command

from preread import __version__
from preread.cli import audio, blocks, cleanup, export, index, serve, verify, worker
from preread.cli.common import DebugOption, HomeOption, console_err, root_flags
from preread.errors import PrereadError

app = typer.Typer(
    name="preread",
    help="Pre-generate text-to-speech audio for documents and stream it from disk.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"preread {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    home: HomeOption = None,
    debug: DebugOption = False,
) -> None:
    """Pre-generate text-to-speech audio for documents and stream it from disk."""
    root_flags.update(home=home, debug=debug)


for module in (blocks, audio, cleanup, index, export, serve, verify, worker):
    module.register(app)


def _usage_message(exc: typer.TyperException) -> str:
    """Typer's usage error as one line (Typer prints a usage block and a hint)."""
    format_message = getattr(exc, "format_message", None)
    message = format_message() if callable(format_message) else str(exc)
    ctx = getattr(exc, "ctx", None)
    path = getattr(ctx, "command_path", None)
    hint = f" (see '{path} --help')" if path else ""
    return " ".join(str(message).split()) + hint


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    root_flags.clear()
    command = get_command(app)
    try:
        result = command.main(args=args, prog_name="preread", standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        console_err.print("preread: interrupted")
        return 130
    except typer.TyperException as exc:  # bad option, bad value, missing argument
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare ``preread``: the help
            getattr(exc, "show", lambda: None)()
            return 2
        print(f"preread: error: {_usage_message(exc)}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 2))
    except PrereadError as exc:
        if debug:
            traceback.print_exc()
        print(f"preread: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # the disk said no (permissions, full, not a directory)
        if debug:
            traceback.print_exc()
        where = f": {exc.filename}" if exc.filename else ""
        print(f"preread: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: still one line unless --debug
        if debug:
            traceback.print_exc()
        print(
            f"preread: internal error: {type(exc).__name__}: {exc} (run with --debug for details)",
            file=sys.stderr,
        )
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
