"""CLI command: ``preread index rebuild`` (the speech index, from the blobs' sidecars)."""

from __future__ import annotations

import json

import typer

from preread.cli.common import DebugOption, HomeOption, JsonOption, load_settings
from preread.library import Library


def rebuild_command(
    json_output: JsonOption = False, home: HomeOption = None, debug: DebugOption = False
) -> None:
    """Rebuild the speech index /v1/audio/speech assembles from (if lost or stale)."""
    library = Library(load_settings(home, debug))
    indexed, skipped = library.rebuild_speech_index()
    if json_output:
        typer.echo(json.dumps({"indexed": indexed, "skipped": skipped}))
        return
    typer.echo(f"speech index: {indexed} blobs indexed, {skipped} skipped (no known voice)")


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    index = typer.Typer(
        name="index",
        help="The speech index of stored audio.",
        no_args_is_help=True,
        rich_markup_mode=None,
    )
    index.command("rebuild")(rebuild_command)
    app.add_typer(index)
