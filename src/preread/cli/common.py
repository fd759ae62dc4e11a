"""What every command shares: the common options and reading settings once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

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
    return Settings.load(home=str(home) if home else None, debug=debug, **flags)
