"""What every command shares: the common options and reading settings once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from preread.errors import BadInput, BadSettings, NotFound
from preread.ids import MIN_PREFIX, check_id_or_prefix
from preread.settings import Settings

console = Console(highlight=False)
console_err = Console(stderr=True, highlight=False)

HomeOption = Annotated[
    Path | None,
    typer.Option("--home", help="Store root (else PREREAD_HOME, else ~/.local/share/preread)."),
]
DebugOption = Annotated[
    bool, typer.Option("--debug", help="Show tracebacks on errors.", show_default=False)
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON for scripts.", show_default=False)
]
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress output.", show_default=False)
]


# --home / --debug given before the command name (``preread --home D list``)
root_flags: dict[str, Any] = {}


def load_settings(home: Path | None, debug: bool = False, **flags: Any) -> Settings:
    """The one place a command reads flags + environment into Settings.

    ``home`` given on the command wins over ``--home`` given before the command.
    """
    home = home or root_flags.get("home")
    debug = debug or bool(root_flags.get("debug"))
    settings = Settings.load(home=str(home) if home else None, debug=debug, **flags)
    if settings.home.exists() and not settings.home.is_dir():
        raise BadSettings(f"the store {settings.home} is not a directory (--home, PREREAD_HOME)")
    return settings


_HEX = frozenset("0123456789abcdefABCDEF")


def path_or_id(doc: str) -> Path | str:
    """``DOC`` as an existing file's path, else as a documentId (prefix) to resolve.

    A directory is ``BadInput``; something that is neither a file nor an id prefix of
    at least 8 hex characters is ``NotFound``, saying why it is not an id either.
    """
    path = Path(doc).expanduser()
    if path.is_file():
        return path
    if path.exists():
        raise BadInput(f"not a file: {doc}")
    try:
        return check_id_or_prefix(doc)
    except BadInput:
        if doc and set(doc) <= _HEX:
            raise NotFound(
                f"no such file: {doc} (a documentId prefix needs at least {MIN_PREFIX} "
                "hex characters)"
            ) from None
        raise NotFound(f"no such file: {doc}") from None
