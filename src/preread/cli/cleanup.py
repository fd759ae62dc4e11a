"""CLI commands: ``preread cleanup`` (LRU eviction for cron) and ``preread stats``."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer

from preread.cli.common import DebugOption, HomeOption, JsonOption, load_settings
from preread.library import CleanupReport, Library
from preread.settings import DEFAULT_GRACE_MINUTES
from preread.units import format_size, parse_duration

MaxSizeOption = Annotated[
    str | None,
    typer.Option(
        "--max-size", help="Keep the audio store under this size (else PREREAD_MAX_BYTES, 5GB)."
    ),
]
OlderThanOption = Annotated[
    str | None,
    typer.Option("--older-than", help="Also remove documents unused for this long (e.g. 7d)."),
]
DryRunOption = Annotated[
    bool,
    typer.Option(
        "--dry-run", help="Change nothing; say what would be removed.", show_default=False
    ),
]


def ago(stamp: float, now: float) -> str:
    seconds = max(0.0, now - stamp)
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            value = int(seconds // size)
            return f"{value} {unit}{'s' if unit == 'day' and value != 1 else ''} ago"
    return "just now"


def _describe(document_id: str, title: str, detail: str) -> str:
    named = f' "{title}"' if title else ""
    return f"{document_id[:12]}{named} ({detail})"


def format_report(
    report: CleanupReport,
    *,
    pin_minutes: float,
    now: float,
    grace_minutes: float = DEFAULT_GRACE_MINUTES,
) -> list[str]:
    """The lines ``preread cleanup`` prints; none when there was nothing to do."""
    if report.skipped:
        return [f"preread cleanup: {report.skipped}; nothing done"]
    kept = [k for k in report.kept]
    if not report.did_something and not kept:
        return []
    dry = report.dry_run
    lines = [
        f"preread cleanup: {'would free' if dry else 'freed'} {format_size(report.freed_bytes)}"
        f", store {'would be' if dry else 'now'} {format_size(report.size_after)} "
        f"of {format_size(report.max_bytes)}" + (" (dry run: nothing changed)" if dry else "")
    ]
    verb = "would remove" if dry else "removed"
    for removed in report.removed:
        if removed.last_used is None:
            detail = f"unfinished folder, {format_size(removed.freed_bytes)}"
        else:
            detail = f"last used {ago(removed.last_used, now)}, {format_size(removed.freed_bytes)}"
        if removed.kind == "registration":
            detail = f"registration and uploaded file, no audio; {detail}"
        lines.append(f"  {verb} {_describe(removed.document_id, removed.title, detail)}")
    if report.blobs_removed:
        lines.append(f"  blobs: {verb} {report.blobs_removed} (audio no document uses any more)")
    if kept:
        reasons = {  # each with the setting that decides it
            "pinned": f"used in the last {pin_minutes:g} min (PREREAD_PIN_MINUTES)",
            "busy": "being preprocessed now (a run holds its lock)",
            "writing": f"changed in the last {grace_minutes:g} min (PREREAD_GRACE_MINUTES)",
        }
        counts: dict[str, int] = {}
        for k in kept:
            counts[k.reason] = counts.get(k.reason, 0) + 1
        parts = ", ".join(f"{n} {reasons.get(r, r)}" for r, n in sorted(counts.items()))
        state = "still over the limit; kept" if report.over_limit else "kept"
        plural = "s" if len(kept) != 1 else ""
        lines.append(f"  {state} {len(kept)} document{plural}: {parts}")
    return lines


def format_stats(stats: dict[str, Any], *, home: str, now: float) -> list[str]:
    total, limit = int(stats["totalSize"]), int(stats["limit"])
    lines = [
        f"store      {home}",
        f"size       {format_size(total)} of {format_size(limit)} ({100 * total / limit:.0f}%)",
        f"documents  {stats['documentsCount']}",
        f"blobs      {stats['blobsCount']} ({stats['unreferencedBlobsCount']} unused by any "
        f"document), dedup saved {format_size(int(stats['dedupSavedBytes']))}",
    ]
    for label, key in (("oldest", "oldestDocument"), ("newest", "newestDocument")):
        doc = stats[key]
        if doc is not None:
            detail = f"last used {ago(doc['lastUsed'], now)}, {format_size(doc['size'])}"
            lines.append(f"{label:<10} {_describe(doc['documentId'], doc['title'], detail)}")
    for name, figures in (stats.get("synthesis") or {}).items():
        lines.append(
            f"synthesis  {name}: P50 {figures['p50']:.2f} s, P95 {figures['p95']:.2f} s per"
            f" chunk (last {figures['count']})"
        )
    return lines


def cleanup_command(
    max_size: MaxSizeOption = None,
    older_than: OlderThanOption = None,
    dry_run: DryRunOption = False,
    json_output: JsonOption = False,
    home: HomeOption = None,
    debug: DebugOption = False,
) -> None:
    """Remove least recently used audio until the store is under its limit (for cron)."""
    settings = load_settings(home, debug, max_size=max_size)
    ttl = parse_duration(older_than) if older_than is not None else None
    report = Library(settings).cleanup(older_than=ttl, dry_run=dry_run)
    if json_output:
        typer.echo(json.dumps(report.to_json()))
        return
    lines = format_report(
        report,
        pin_minutes=settings.pin_minutes,
        grace_minutes=settings.grace_minutes,
        now=time.time(),
    )
    for line in lines:
        typer.echo(line)


def stats_command(
    json_output: JsonOption = False, home: HomeOption = None, debug: DebugOption = False
) -> None:
    """Size of the audio store against its limit, documents, blobs and dedup savings."""
    settings = load_settings(home, debug)
    stats = Library(settings).stats()
    if json_output:
        typer.echo(json.dumps(stats))
        return
    for line in format_stats(stats, home=str(settings.home), now=time.time()):
        typer.echo(line)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("cleanup")(cleanup_command)
    app.command("stats")(stats_command)
