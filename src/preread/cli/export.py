"""``preread export DOC [--chapter N] [--format mp3|vtt|srt|m4b] [-o FILE]``.

The document (or one chapter of its outline) as one audio file with chapter marks, or
as subtitles. Stored chunks are used as they are; chunks that are not stored yet are
generated first, with the voice the stored audio was made with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from preread.cli.audio import DocArgument, resolve_doc
from preread.cli.common import DebugOption, HomeOption, console_err, load_settings
from preread.errors import BadInput, NotFound
from preread.export import EXPORT_FORMATS, ExportPlan, plan, write_export
from preread.library import Library
from preread.model import DocumentText
from preread.units import format_size

ChapterOption = Annotated[
    int | None,
    typer.Option("--chapter", help="Only chapter N of the outline (1-based).", show_default=False),
]
FormatOption = Annotated[
    str,
    typer.Option("--format", "-f", help="mp3 or m4b (with chapter marks), vtt or srt."),
]
OutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output", "-o", help="File to write (default: named after the document, here).",
        show_default=False,
    ),
]  # fmt: skip


def _chapter_pages(document: DocumentText, chapter: int | None) -> list[int] | None:
    if chapter is None or not document.chapters:
        return None
    chapters = sorted(document.chapters, key=lambda c: c.page)
    if not 1 <= chapter <= len(chapters):
        return None  # plan() says why
    end = chapters[chapter].page if chapter < len(chapters) else document.pages + 1
    return list(range(chapters[chapter - 1].page, end))


def _pages(pages: list[int] | None) -> str:
    if pages is None:
        return "every page"
    return f"page {pages[0]}" if len(pages) == 1 else f"{len(pages)} pages"


def _fill(library: Library, document_id: str, source: Path | None, chapter: int | None) -> None:
    """Generate what the export needs and the store lacks."""
    manifest = library.manifest(document_id)
    document = library.registration(document_id)
    if document is None:
        if source is None:
            raise NotFound(f"document {document_id[:12]} has no stored text: give the file's path")
        document = library.read(source)
    if manifest is None:
        pages = _chapter_pages(document, chapter)
        console_err.print(f"generating the audio of {_pages(pages)}…")
        library.pregenerate(document, source=source, pages=pages, list_all=True)
        return
    missing = plan(manifest, library.chunks_dir(document_id), chapter).missing_pages()
    if not missing:
        return
    console_err.print(f"generating the audio of {_pages(missing)}, not stored yet…")
    if len(manifest.chunks) == len(document.blocks):  # it lists the whole document
        library.pregenerate(
            document, manifest.voice_settings(), source=source, pages=missing, list_all=True
        )
    else:  # a page selection: the same selection, so the manifest stays as it is
        pages = sorted({c.page for c in manifest.chunks})
        library.pregenerate(document, manifest.voice_settings(), source=source, pages=pages)


def export_command(
    doc: DocArgument,
    chapter: ChapterOption = None,
    fmt: FormatOption = "mp3",
    output: OutputOption = None,
    home: HomeOption = None,
    debug: DebugOption = False,
) -> None:
    """Write a document or a chapter as one audio file with chapter marks, or as subtitles."""
    fmt = fmt.lower()
    if fmt not in EXPORT_FORMATS:
        raise BadInput(f"bad --format {fmt!r}: use {', '.join(EXPORT_FORMATS)}")
    if chapter is not None and chapter < 1:
        raise BadInput(f"bad --chapter {chapter}: chapters are numbered from 1")
    library = Library(load_settings(home, debug))
    document_id, source = resolve_doc(library, doc)
    _fill(library, document_id, source, chapter)
    manifest = library.manifest(document_id)
    if manifest is None:
        raise NotFound(f"document {document_id[:12]} has no audio")
    export: ExportPlan = plan(manifest, library.chunks_dir(document_id), chapter)
    target = output if output is not None else Path(export.file_name(fmt, chapter))
    if target.is_dir():
        target = target / export.file_name(fmt, chapter)
    write_export(export, fmt, target)
    seconds = export.chapters[-1].end
    typer.echo(
        f"wrote {target}: {format_size(target.stat().st_size)}, {seconds / 60:.1f} min,"
        f" {len(export.chapters)} chapter{'' if len(export.chapters) == 1 else 's'}"
    )


def register(app: typer.Typer) -> None:
    app.command("export")(export_command)
