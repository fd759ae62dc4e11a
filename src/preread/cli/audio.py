"""CLI commands around the audio: ``preprocess``, ``status``, ``list``, ``delete``.

``DOC`` is a PDF path or a documentId (prefix of ≥ 8 hex chars) the store knows.
"""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Column

from preread.cli.blocks import LanguageOption, PagesOption, PasswordOption, ReadCodeOption
from preread.cli.common import (
    DebugOption,
    HomeOption,
    JsonOption,
    QuietOption,
    console_err,
    load_settings,
    path_or_id,
)
from preread.errors import Conflict, NotFound
from preread.ids import document_id_of_file
from preread.library import Library, Summary
from preread.library import Progress as JobProgress
from preread.model import DocumentText
from preread.units import format_size

DocArgument = Annotated[
    str,
    typer.Argument(
        help="A PDF, EPUB, Markdown, HTML or UTF-8 text file, or a documentId (prefix).",
        metavar="DOC",
        show_default=False,
    ),
]
ProviderOption = Annotated[
    str | None,
    typer.Option(
        "--provider",
        help="piper (default, offline), openai or fake; a chain in order: openai,piper.",
    ),
]
VoiceOption = Annotated[
    str | None, typer.Option("--voice", help="Voice name (piper: joe; openai: alloy…).")
]
SpeedOption = Annotated[
    float | None, typer.Option("--speed", help="Speaking speed, 0.25–4.0 (default 1.0).")
]
ModelOption = Annotated[
    str | None, typer.Option("--model", help="Model (openai: gpt-4o-mini-tts, tts-1, tts-1-hd).")
]
FormatOption = Annotated[
    str | None, typer.Option("--format", help="mp3 (default) or opus (smaller).")
]
InstructionsOption = Annotated[
    str | None, typer.Option("--instructions", help="How to speak (openai gpt-4o-mini-tts).")
]
ForceOption = Annotated[
    bool, typer.Option("--force", help="Regenerate every chunk.", show_default=False)
]
UpgradeOption = Annotated[
    bool,
    typer.Option(
        "--upgrade",
        help="Regenerate the chunks a fallback voice spoke, with the first provider.",
        show_default=False,
    ),
]
VerifyOption = Annotated[
    bool,
    typer.Option(
        "--verify",
        help="Also check every done chunk's bytes against the manifest and repair them.",
        show_default=False,
    ),
]
WaitOption = Annotated[
    bool,
    typer.Option(
        "--wait", help="If another run holds the document, wait for it.", show_default=False
    ),
]


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def resolve_doc(library: Library, doc: str) -> tuple[str, Path | None]:
    """(documentId, the file's path or None) for a path or an id prefix."""
    found = path_or_id(doc)
    if isinstance(found, Path):
        return document_id_of_file(found), found
    return library.resolve(found), None


def clock(seconds: float) -> str:
    """``1:02`` under an hour, ``2:01:02`` above."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def progress_line(progress: JobProgress) -> str:
    """What the bar says next to itself: chunks, audio, ETA, real-time factor, failures."""
    eta = "--" if progress.eta is None else clock(progress.eta)
    rtf = "--" if progress.real_time_factor is None else f"{progress.real_time_factor:.3f}"
    failed = f"  {progress.failed} failed" if progress.failed else ""
    return (
        f"{progress.done + progress.failed}/{progress.total} chunks  "
        f"{minutes(progress.duration)} audio  ETA {eta}  RTF {rtf}{failed}"
    )


class ProgressBar:
    """The rich progress bar of ``preprocess`` (chunks, audio minutes, ETA, RTF).

    The figures are one column that is never squeezed; the title and the bar share
    what is left of the terminal's width (on 80 columns: a short title and bar).
    """

    def __init__(self, title: str, console: Console | None = None) -> None:
        self.bar = Progress(
            TextColumn(
                "[bold]{task.description}",
                table_column=Column(ratio=1, no_wrap=True, overflow="ellipsis"),
            ),
            BarColumn(bar_width=None, table_column=Column(ratio=2)),
            TextColumn("{task.fields[line]}", table_column=Column(no_wrap=True)),
            TimeElapsedColumn(table_column=Column(no_wrap=True)),
            console=console or console_err,
            transient=False,
            expand=True,
        )
        self.title = title
        self.task: TaskID | None = None

    def __enter__(self) -> ProgressBar:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bar.__exit__(None, None, None)

    def update(self, progress: JobProgress) -> None:
        line = progress_line(progress)
        if self.task is None:
            self.task = self.bar.add_task(
                escape(self.title), total=progress.total or None, line=line
            )
        self.bar.update(self.task, completed=progress.done + progress.failed, line=line)


def _load_document(
    library: Library, doc: str, pages: str | None, password: str | None
) -> tuple[DocumentText, Path | None, str | None]:
    """The whole document (read from the file, or its registration) and the pages to make.

    A file is read whole whatever ``pages`` says: the registration always holds every
    block, so the server knows every page; ``pages`` only chooses what is generated.
    """
    document_id, path = resolve_doc(library, doc)
    if path is not None:
        document = library.read(path, password=password)
        library.check_pages(document, pages)  # a bad --pages: exit 2 before any work
        for warning in document.warnings:
            console_err.print(f"preread: warning: {warning}", markup=False)
        return document, path, pages
    registered = library.registration(document_id)
    if registered is None:
        raise NotFound(f"document {document_id[:12]} is not registered: give the file's path")
    return registered, None, pages


def _stop_on_ctrl_c(cancel: threading.Event) -> Any:
    """First Ctrl-C: finish the sentence in hand, save, stop. Second: stop now."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: Any) -> None:
        cancel.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    return signal.signal(signal.SIGINT, handler)


def _print_summary(summary: Summary, title: str) -> None:
    p = summary.progress
    typer.echo(f"documentId: {p.document_id}")
    typer.echo(f"audio:      {summary.audio_dir}")
    rate = f", {p.chars_per_second:.0f} chars/s" if p.chars_per_second else ""
    rtf = f", real-time factor {p.real_time_factor:.3f}" if p.real_time_factor else ""
    upgraded = f", {summary.upgraded} upgraded" if summary.upgraded else ""
    typer.echo(
        f"{title}: {p.state}: {p.done}/{p.total} chunks ({summary.generated} generated, "
        f"{summary.reused} reused, {summary.skipped} already done{upgraded}), "
        f"{minutes(p.duration)} of audio, {format_size(p.bytes)}, {p.elapsed:.1f} s{rate}{rtf}"
    )
    if p.fallback:
        typer.echo(
            f"  {p.fallback} chunks spoken by a fallback voice: preread preprocess DOC"
            " --upgrade makes them again with the first provider when it is back"
        )
    for index, error in sorted(summary.failures)[:10]:  # workers finish in any order
        typer.echo(f"  chunk {index} failed: {error}")
    if len(summary.failures) > 10:
        typer.echo(f"  … and {len(summary.failures) - 10} more")


def preprocess_command(
    doc: DocArgument,
    pages: PagesOption = None,
    provider: ProviderOption = None,
    voice: VoiceOption = None,
    speed: SpeedOption = None,
    model: ModelOption = None,
    format: FormatOption = None,
    instructions: InstructionsOption = None,
    force: ForceOption = False,
    upgrade: UpgradeOption = False,
    wait: WaitOption = False,
    password: PasswordOption = None,
    read_code: ReadCodeOption = False,
    quiet: QuietOption = False,
    json_output: JsonOption = False,
    language: LanguageOption = None,
    home: HomeOption = None,
    debug: DebugOption = False,
) -> None:
    """Pre-generate a document's audio (resumable: running it again does what is missing)."""
    settings = load_settings(
        home,
        debug,
        provider=provider,
        voice=voice,
        speed=speed,
        model=model,
        format=format,
        instructions=instructions,
        language=language,
        read_code=True if read_code else None,
    )
    library = Library(settings)
    try:
        resolved = library.resolve_voice()  # bad settings: exit 2 before reading anything
        document, source, select = _load_document(library, doc, pages, password)
        library.engines.languages.check(document.language, resolved, document.source_name)
    except BaseException:
        library.close()
        raise
    show = not (quiet or json_output) and console_err.is_terminal
    title = document.title or document.source_name
    cancel = threading.Event()
    previous = _stop_on_ctrl_c(cancel)
    try:
        if show:
            with ProgressBar(title) as bar:
                summary = library.pregenerate(
                    document, source=source, pages=select, force=force, wait=wait,
                    on_progress=bar.update, cancel=cancel, list_all=True, upgrade=upgrade,
                )  # fmt: skip
        else:
            summary = library.pregenerate(
                document, source=source, pages=select, force=force, wait=wait, cancel=cancel,
                list_all=True, upgrade=upgrade,
            )  # fmt: skip
    except KeyboardInterrupt:  # a second Ctrl-C: what was recorded is saved
        summary = None
    except Conflict as exc:  # another run holds the document (with --wait we waited)
        raise Conflict(f"{exc.message}; or add --wait to wait for it here") from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        library.close()
    if summary is None or summary.state == "cancelled":
        manifest = library.manifest(document.document_id)
        done = manifest.count("done") if manifest else 0
        total = len(manifest.chunks) if manifest else 0
        typer.echo(
            f"preread: interrupted: {done}/{total} chunks are saved; run the same command "
            "again to resume",
            err=True,
        )
        raise typer.Exit(130)
    if json_output:
        typer.echo(json.dumps(summary.to_json(), ensure_ascii=False))
    else:
        _print_summary(summary, title)
    if summary.progress.failed:
        raise typer.Exit(1)


def status_command(
    doc: DocArgument,
    verify: VerifyOption = False,
    json_output: JsonOption = False,
    home: HomeOption = None,
    debug: DebugOption = False,
) -> None:
    """Show how far a document's audio is (state, chunks, size, duration)."""
    from preread.cli.verify import check_lines

    library = Library(load_settings(home, debug))
    document_id, _ = resolve_doc(library, doc)
    check = library.verify([document_id])[0] if verify else None  # first: repairs
    status = library.status(document_id)
    if check is not None:
        status["verify"] = check.to_json()
    if json_output:
        typer.echo(json.dumps(status))
    else:
        _print_status(library, document_id, status)
        if check is not None:
            for line in check_lines(check) or [
                f"  verified: all {check.checked} done chunks match the manifest"
            ]:
                typer.echo(line)
    if check is not None and not check.ok:
        raise typer.Exit(1)


def _print_status(library: Library, document_id: str, status: dict[str, Any]) -> None:
    manifest = library.manifest(document_id)
    if manifest is None:
        typer.echo(f"{document_id}: no audio yet (preread preprocess DOC.pdf)")
        return
    typer.echo(
        f"{document_id}: {status['state']}: {status['done']}/{status['total']} chunks"
        + (f", {status['failed']} failed" if status["failed"] else "")
        + (f", {status['fallback']} by a fallback voice" if status["fallback"] else "")
        + f", {minutes(status['duration'])}, {format_size(status['bytes'])}\n"
        f"  {manifest.title or manifest.source_name} — {manifest.tts_provider}/"
        f"{manifest.tts_model}/{manifest.voice} speed {manifest.native_speed:g} {manifest.format}\n"
        f"  {library.chunks_dir(document_id)}"
    )


def list_command(
    json_output: JsonOption = False, home: HomeOption = None, debug: DebugOption = False
) -> None:
    """List the documents in the store."""
    library = Library(load_settings(home, debug))
    rows = library.listing()
    if json_output:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    if not rows:
        typer.echo(
            f"no documents in {library.home} (preread preprocess DOC.pdf adds one)", err=True
        )
    for row in rows:
        typer.echo(
            f"{row['documentId'][:12]}  {row['state']:<8} {row['done']:>5}/{row['total']:<5} "
            f"{minutes(row['duration']):>10} {format_size(row['bytes']):>9}  "
            f"{row['title'] or row['sourceName']}"
        )


def delete_command(
    doc: DocArgument,
    json_output: JsonOption = False,
    home: HomeOption = None,
    debug: DebugOption = False,
) -> None:
    """Delete a document's audio and registration (shared audio other documents use stays)."""
    library = Library(load_settings(home, debug))
    document_id, _ = resolve_doc(library, doc)
    result = library.delete(document_id)
    if json_output:
        typer.echo(
            json.dumps(
                {"documentId": document_id, "deleted": True, "freedBytes": result.freed_bytes}
            )
        )
    else:
        typer.echo(f"deleted {document_id} (freed {format_size(result.freed_bytes)})")


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("preprocess")(preprocess_command)
    app.command("status")(status_command)
    app.command("list")(list_command)
    app.command("delete")(delete_command)
