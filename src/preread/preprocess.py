"""The preprocess job: fill a document's chunk folder, resumably (CLI and server).

``run_preprocess`` holds the document's job lock (a second run fails at once with
``Conflict``, or waits with ``wait=True``), registers the document, writes the
manifest listing every selected block (``prepare_manifest``), checks the chunks
already done (size + SHA-256; bad ones are redone), then makes the missing ones
with a pipeline: ``provider.concurrency`` threads synthesize (Piper: one per core,
each ONNX call on one thread), while the calling thread encodes, stores and links
the chunks they hand over (``preread.generate.ChunkMaker``). Each chunk written
(or failed) is appended to the document's progress journal (``preread.journal``:
one fsynced line, O(1) in the book's size), folded into ``tts.meta.json`` when the
run ends (or is interrupted). A kill at any moment leaves whole files, a valid
manifest and a journal that every reader replays; a chunk written but not yet
recorded is picked up again from its blob on re-run.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import replace
from pathlib import Path

from preread.blobs import BlobInfo, blob_key
from preread.chunk_folder import (
    chunk_is_valid,
    document_status,
    prepare_manifest,
    remove_stale_temps,
    same_blocks,
    select_blocks,
    state_of,
)
from preread.errors import Conflict, PrereadError
from preread.flights import Flights
from preread.generate import ChunkMaker, Prepared, progress_journal
from preread.manifest import ChunkEntry
from preread.model import Block, DocumentText
from preread.progress import Progress, Summary
from preread.settings import VoiceSettings
from preread.store import Store
from preread.throughput import Throughput
from preread.tts.base import Provider
from preread.tts.chain import Chain
from preread.tts.languages import LanguageVoices
from preread.voice import ResolvedVoice

__all__ = [  # the folder helpers and the job's figures are re-exported: callers import them here
    "Progress",
    "Summary",
    "document_status",
    "prepare_manifest",
    "run_preprocess",
    "same_blocks",
    "select_blocks",
    "state_of",
]


REPORT_SECONDS = 1.0  # progress (elapsed, ETA) refreshed at least this often


# -- the job ----------------------------------------------------------------------------------
def run_preprocess(
    store: Store,
    provider: Provider,
    document: DocumentText,
    voice_settings: VoiceSettings,
    *,
    source: Path | bytes | None = None,
    pages: str | Collection[int] | None = None,
    force: bool = False,
    wait: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
    list_all: bool = False,
    flights: Flights[str] | None = None,
    chain: Chain | None = None,
    upgrade: bool = False,
    observe: Callable[[str, float, int], None] | None = None,
    languages: LanguageVoices | None = None,
    fetch: Callable[[str, str], BlobInfo | None] | None = None,
) -> Summary:
    """Pre-generate ``document``'s chunks; see the module docstring.

    ``document`` holds every block of the document; ``pages`` selects the blocks to
    generate. The manifest lists the same blocks, or with ``list_all`` (the CLI and
    the server) every block of the document, indexed over the whole document, so a
    block of any other page stays known and a reader asking for it gets it generated
    live. The registration is written from ``document`` when ``source`` (the file
    it was read from, whole) is given or the store has none yet.

    Raises BadSettings before touching the disk, Conflict when another run holds
    the document (unless ``wait``), KeyboardInterrupt after saving what was done.
    A set ``cancel`` event stops after the current sentence (state ``cancelled``).
    ``flights``: the process's content-key single flight (the server passes its own).
    ``upgrade``: also make again the done chunks a fallback spoke (``spokenBy``), with
    the chain's first provider when its breaker lets it; a chunk it still cannot make
    keeps its fallback audio. ``observe``: told of each synthesis (``ChunkMaker``).
    ``chain``, ``languages``: fallbacks and voices per language (``ChunkMaker``);
    ``fetch``: a blob missing locally from the shared tier first (``ChunkMaker``).
    """
    voice = provider.resolve(voice_settings)
    blocks = select_blocks(document, pages)
    wanted: set[int] | None = None
    if list_all:
        wanted = None if pages is None else {b.page for b in blocks}
        blocks = list(document.blocks)
    document_id = document.document_id
    lock = store.job_lock(document_id)
    try:
        lock.acquire(blocking=wait)
    except Conflict:
        raise Conflict(
            f"document {document_id[:12]} is being preprocessed by another run;"
            " wait for it to finish (running again afterwards resumes)"
        ) from None
    try:
        if source is not None or not store.is_registered(document_id):
            store.register(document, source)  # never a page selection: see the docstring
        maker = ChunkMaker(store, provider, flights, chain, observe, languages, fetch)
        return _run_locked(
            store, maker, document, blocks, voice, force, on_progress, cancel, wanted, upgrade
        )
    finally:
        lock.release()


def _run_locked(
    store: Store,
    maker: ChunkMaker,
    document: DocumentText,
    blocks: list[Block],
    voice: ResolvedVoice,
    force: bool,
    on_progress: Callable[[Progress], None] | None,
    cancel: threading.Event | None,
    wanted: set[int] | None = None,
    upgrade: bool = False,
) -> Summary:
    """Generate the manifest's chunks that are not done (only those on ``wanted`` pages)."""
    document_id = document.document_id
    started = time.perf_counter()
    manifest = prepare_manifest(store, document, voice, force=force, blocks=blocks)
    remove_stale_temps(store.chunks_dir(document_id))
    selected = [e for e in manifest.chunks if wanted is None or e.page in wanted]
    summary = Summary(Progress(document_id, len(selected)), store.chunks_dir(document_id))
    progress = summary.progress
    repaired: list[ChunkEntry] = []
    upgrading: set[int] = set()  # done by a fallback, made again
    for entry in selected:
        if entry.status == "done":
            if upgrade and entry.by_fallback:
                upgrading.add(entry.index)
                continue
            if chunk_is_valid(store, document_id, entry):
                progress.fallback += entry.by_fallback
                summary.skipped += 1
                progress.done += 1
                progress.bytes += entry.bytes or 0
                progress.duration += entry.duration or 0.0
                continue
            entry.reset()
            repaired.append(entry)
    summary.repaired = len(repaired)
    journal = progress_journal(store, document_id, voice)
    journal.append(repaired)
    todo = [e for e in selected if e.status != "done" or e.index in upgrading]
    rate = Throughput(sum(len(e.text) for e in todo))
    stop = cancel if cancel is not None else threading.Event()
    items: queue.Queue[tuple[ChunkEntry, Prepared | None, str | None] | None] = queue.Queue(2)
    crashed: list[BaseException] = []
    flights = maker.flights
    renewed: set[str] = set()  # keys --force regenerated in this run: reused after that

    def put(item: tuple[ChunkEntry, Prepared | None, str | None] | None) -> bool:
        while True:
            try:
                items.put(item, timeout=0.2)
                return True
            except queue.Full:
                if stop.is_set() and item is not None:
                    return False

    pending = iter(todo)
    pending_lock = threading.Lock()

    def produce() -> None:
        """Synthesize while holding the content key's flight; the main thread lands it
        once the blob is stored (so no other maker of that content overlaps)."""
        try:
            while not stop.is_set():
                with pending_lock:
                    entry = next(pending, None)
                if entry is None:
                    break
                key = blob_key(entry.text, voice)
                try:
                    flights.lead(key, "preprocess", cancel=stop)
                except InterruptedError:
                    break
                handed = False
                prepared: Prepared | None = None
                try:
                    fresh = force and key not in renewed
                    renewed.add(key)
                    try:
                        prepared = maker.synthesize(entry, voice, fresh=fresh, cancel=stop)
                    except InterruptedError:
                        break
                    except PrereadError as exc:
                        if not put((entry, None, str(exc))):
                            break
                        continue
                    handed = put((entry, prepared, None))
                    if not handed:
                        break
                finally:
                    if not handed:
                        for held in prepared.flights if prepared is not None else (key,):
                            flights.land(held)
        except BaseException as exc:  # a bug: hand it to the main thread
            crashed.append(exc)
        finally:
            put(None)

    unrecorded: list[ChunkEntry] = []

    refused = False  # a result the manifest no longer takes: read the state from disk

    def flush() -> None:
        nonlocal refused
        if len(journal.append(unrecorded)) < len(unrecorded):
            refused = True
        unrecorded.clear()

    last_report = 0.0

    def report() -> None:
        nonlocal last_report
        now = last_report = time.perf_counter()
        progress.elapsed = now - started
        progress.chars_per_second = rate.chars_per_second
        progress.eta = rate.eta(now)
        progress.real_time_factor = rate.real_time_factor
        if on_progress is not None:
            on_progress(progress)

    workers = max(1, min(int(getattr(maker.provider, "concurrency", 1)), len(todo)))
    producers = [
        threading.Thread(target=produce, name=f"preread-synth-{n}", daemon=True)
        for n in range(workers)
    ]
    for producer in producers:
        producer.start()
    report()
    running = workers
    try:
        while running:
            try:
                item = items.get(timeout=0.2)
            except queue.Empty:
                if time.perf_counter() - last_report >= REPORT_SECONDS:
                    report()  # the ETA counts down and the clock runs between chunks
                continue
            if item is None:
                running -= 1
                continue
            entry, prepared, error = item
            rate.done(len(entry.text))
            if prepared is not None:
                done: ChunkEntry | None
                try:
                    done = maker.store_chunk(document_id, prepared, voice)
                except (PrereadError, OSError) as exc:
                    error = f"could not store the chunk: {exc}"
                    done = None
                finally:
                    for key in prepared.flights:
                        flights.land(key)
                if done is not None:
                    unrecorded.append(done)
                    progress.done += 1
                    progress.fallback += done.by_fallback
                    if entry.index in upgrading and not done.by_fallback:
                        summary.upgraded += 1
                    progress.bytes += done.bytes or 0
                    progress.duration += done.duration or 0.0
                    if prepared.blob is None:
                        summary.generated += 1
                        rate.synthesized(
                            prepared.synthesized_chars,
                            prepared.synthesis_seconds,
                            done.duration or 0.0,
                            now=time.perf_counter(),
                        )
                    else:
                        summary.reused += 1
            if error is not None and entry.index in upgrading:
                # no voice could make it again: it keeps its fallback audio
                summary.failures.append((entry.index, f"not upgraded: {error}"))
                progress.done += 1
                progress.fallback += 1
                progress.bytes += entry.bytes or 0
                progress.duration += entry.duration or 0.0
            elif error is not None:
                failed = replace(entry, status="failed", error=error)
                unrecorded.append(failed)
                progress.failed += 1
                summary.failures.append((entry.index, error))
            flush()
            report()
    except BaseException:
        stop.set()

        def drain() -> None:  # what the producers handed over: never stored, so landed
            with contextlib.suppress(queue.Empty):
                while True:
                    left = items.get_nowait()
                    if left is not None and left[1] is not None:
                        for key in left[1].flights:
                            flights.land(key)

        while any(p.is_alive() for p in producers):  # let them finish their sentence
            drain()
            time.sleep(0.02)
        drain()
        flush()
        with contextlib.suppress(PrereadError, OSError):  # else the journal is replayed
            store.fold_journal(document_id)
        progress.state = "cancelled"
        raise
    for producer in producers:
        producer.join()
    flush()
    store.fold_journal(document_id)
    if crashed:
        raise crashed[0]
    if stop.is_set() and progress.done + progress.failed < progress.total:
        progress.state = "cancelled"
    else:
        progress.state = (
            state_of(store.read_manifest(document_id), wanted)
            if refused  # else the counts say it, without parsing the book's manifest again
            else _state(progress.total, progress.done, progress.failed)
        )
    progress.eta = 0.0 if progress.state == "complete" else None
    report()
    return summary


def _state(total: int, done: int, failed: int) -> str:
    """``state_of`` from counts (same rules)."""
    if done == total:
        return "complete"
    if failed and done + failed == total:
        return "failed"
    return "partial"
