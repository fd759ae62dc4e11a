"""``preread verify [DOC]``: every done chunk's bytes against its manifest, repaired.

Also behind ``preread status DOC --verify``. Exit codes: 0 when every chunk checked
matches its manifest or was repaired (relinked from a correct copy, or marked
pending for the next run to make again); 1 when something could not be checked or
repaired (a preprocess run holds the document).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from preread.cli.common import DebugOption, HomeOption, JsonOption, load_settings
from preread.library import Library
from preread.verify import DocumentCheck

OptionalDoc = Annotated[
    str | None,
    typer.Argument(
        help="A PDF file, or a documentId (prefix); all documents when omitted.",
        metavar="DOC",
        show_default=False,
    ),
]


def check_lines(check: DocumentCheck) -> list[str]:
    """What a person reads about one document: nothing when all is well."""
    name = f"{check.document_id[:12]}  {check.title}".rstrip()
    if check.skipped is not None:
        return [f"{name}: not checked: {check.skipped}"]
    if not check.problems:
        return []
    repaired = sum(1 for p in check.problems if p.repaired)
    lines = [
        f"{name}: {len(check.problems)} of {check.checked} done chunks differed from the "
        f"manifest, {repaired} repaired"
    ]
    lines += [f"  {p.describe()}" for p in check.problems]
    return lines


def summary_json(checks: list[DocumentCheck]) -> dict[str, object]:
    problems = [p for c in checks for p in c.problems]
    return {
        "ok": all(c.ok for c in checks),
        "documents": [c.to_json() for c in checks],
        "checked": sum(c.checked for c in checks),
        "problems": len(problems),
        "repaired": sum(1 for p in problems if p.repaired),
        "skipped": sum(1 for c in checks if c.skipped is not None),
    }


def verify_command(
    doc: OptionalDoc = None,
    json_output: JsonOption = False,
    home: HomeOption = None,
    debug: DebugOption = False,
) -> None:
    """Check that every done chunk's bytes match its manifest (size, SHA-256); repair
    those that do not (exit 1 if something could not be repaired)."""
    from preread.cli.audio import resolve_doc

    library = Library(load_settings(home, debug))
    checks = library.verify(None if doc is None else [resolve_doc(library, doc)[0]])
    summary = summary_json(checks)
    if json_output:
        typer.echo(json.dumps(summary, ensure_ascii=False))
    else:
        for check in checks:
            for line in check_lines(check):
                typer.echo(line)
        verdict = (
            "all match their manifests"
            if not summary["problems"]
            else f"{summary['problems']} differed, {summary['repaired']} repaired"
        )
        skipped = f"; {summary['skipped']} not checked" if summary["skipped"] else ""
        typer.echo(
            f"verified {len(checks)} document{'s' if len(checks) != 1 else ''}, "
            f"{summary['checked']} done chunks: {verdict}{skipped}"
        )
    if not summary["ok"]:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("verify")(verify_command)
