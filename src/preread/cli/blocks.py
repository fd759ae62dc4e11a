"""``preread blocks DOC [--pages 3-7,10] [--json] [--password PW]``: what will be spoken.

DOC is a PDF, EPUB, Markdown, HTML or UTF-8 text file (recognised by its bytes), or a
stored documentId.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from preread.cli.common import (
    DebugOption,
    HomeOption,
    JsonOption,
    console,
    console_err,
    load_settings,
    path_or_id,
)
from preread.library import Library
from preread.model import DocumentText

PagesOption = Annotated[
    str | None,
    typer.Option(
        "--pages",
        help="Pages (or sections of an EPUB, Markdown, HTML or text file) to read, "
        "e.g. 3-7,10 (default: all).",
        show_default=False,
    ),
]
ReadCodeOption = Annotated[
    bool,
    typer.Option(
        "--read-code",
        help="Read code blocks of EPUB, Markdown and HTML files (else PREREAD_READ_CODE).",
        show_default=False,
    ),
]
LanguageOption = Annotated[
    str | None,
    typer.Option(
        "--language",
        help="The document's language (ISO 639-1: en, fr, de…) instead of the detected one "
        "(else PREREAD_LANGUAGE).",
        show_default=False,
    ),
]
PasswordOption = Annotated[
    str | None,
    typer.Option(
        "--password",
        help="Password of an encrypted PDF (else PREREAD_PDF_PASSWORD).",
        envvar="PREREAD_PDF_PASSWORD",
        show_default=False,
        show_envvar=False,
    ),
]


def _table(document: DocumentText) -> Table:
    table = Table(
        title=Text(
            f"{document.title} — {document.source_name}, {document.pages} "
            f"{document.unit}{'' if document.pages == 1 else 's'}, "
            f"{len(document.blocks)} blocks, language {document.language or '?'}"
        ),
        title_justify="left",
        expand=False,
        show_lines=True,
    )
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("page", justify="right", no_wrap=True)
    table.add_column("blk", justify="right", no_wrap=True)
    table.add_column("chars", justify="right", no_wrap=True)
    table.add_column("text", overflow="fold")
    for block in document.blocks:
        table.add_row(
            str(block.index),
            str(block.page),
            str(block.block_index),
            str(len(block.text)),
            Text(block.text),
        )
    return table


def blocks_command(
    document: Annotated[
        str,
        typer.Argument(
            help="The PDF, EPUB, Markdown, HTML or text file (or a stored documentId).",
            metavar="DOC",
            show_default=False,
        ),
    ],
    pages: PagesOption = None,
    json_output: JsonOption = False,
    password: PasswordOption = None,
    language: LanguageOption = None,
    read_code: ReadCodeOption = False,
    home: HomeOption = None,
    debug: DebugOption = False,
) -> None:
    """Print the blocks that will be spoken (no synthesis)."""
    found = path_or_id(document)
    settings = load_settings(home, debug, language=language, read_code=True if read_code else None)
    library = Library(settings)
    if isinstance(found, Path):
        result = library.read(found, pages=pages, password=password)
    else:
        # a stored document: what ``preprocess DOC`` speaks (no password needed)
        result = library.blocks(library.resolve(found), pages)
    for warning in result.warnings:
        console_err.print(f"preread: warning: {warning}", markup=False)
    if json_output:
        typer.echo(json.dumps([b.to_json() for b in result.blocks], ensure_ascii=False, indent=2))
        return
    console.print(_table(result))


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("blocks")(blocks_command)
