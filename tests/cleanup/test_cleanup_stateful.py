"""Random add / use / lock / cleanup sequences keep the store's invariants.

After every step: no folder without its manifest, no manifest whose chunks are gone, no
chunk file the manifest does not list, no sidecar without its audio. After a cleanup:
the store is under the limit unless everything left is pinned or held by a job; the
report's sizes are the real ones; a dry run just before predicted exactly what happened.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from synthstore import T0, SynthStore, consistency_problems, content, disk_usage, doc_id

from preread.fsutil import FileLock
from preread.lifecycle import last_used, record_use, run_cleanup
from preread.store import Store

PIN_MINUTES = 30.0
GRACE = 60.0
POOL = 8  # chunk contents drawn from a small pool, so documents share blobs


class CleanupMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="preread-cleanup-"))
        self.store = Store(self.tmp / "home")
        self.synth = SynthStore(self.store)
        self.clock = T0
        self.added = 0
        self.locks: dict[str, FileLock] = {}

    def teardown(self) -> None:
        for lock in self.locks.values():
            lock.release()
        if hasattr(self, "tmp"):
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _docs(self) -> list[str]:
        return sorted(self.store.cached_ids())

    @rule(
        picks=st.lists(st.integers(0, POOL - 1), min_size=1, max_size=4),
        pages=st.integers(1, 3),
    )
    def add(self, picks: list[int], pages: int) -> None:
        self.added += 1
        chunks = [content(f"pool {p}", pages=pages) for p in picks]
        self.synth.add_document(doc_id(f"m{self.added}"), chunks, at=self.clock)

    @precondition(lambda self: bool(self.store.cached_ids()))
    @rule(data=st.data())
    def use(self, data: st.DataObject) -> None:
        record_use(self.store, data.draw(st.sampled_from(self._docs())), now=self.clock)

    @rule(seconds=st.sampled_from([1, 45, 120, 20 * 60, 40 * 60, 86400]))
    def tick(self, seconds: int) -> None:
        self.clock += seconds

    @precondition(lambda self: bool(self.store.cached_ids()))
    @rule(data=st.data())
    def toggle_job(self, data: st.DataObject) -> None:
        document_id = data.draw(st.sampled_from(self._docs()))
        lock = self.locks.pop(document_id, None)
        if lock is not None:
            lock.release()
        else:
            self.locks[document_id] = FileLock(self.store.job_lock(document_id).path).acquire(
                blocking=False
            )

    @rule(fraction=st.sampled_from([0.0, 0.25, 0.5, 0.9]))
    def cleanup(self, fraction: float) -> None:
        limit = max(1, int(disk_usage(self.store.home) * fraction))
        kw = dict(max_bytes=limit, pin_minutes=PIN_MINUTES, now=self.clock, grace_seconds=GRACE)
        dry = run_cleanup(self.store, dry_run=True, **kw)  # type: ignore[arg-type]
        real = run_cleanup(self.store, **kw)  # type: ignore[arg-type]
        size = disk_usage(self.store.home)
        assert real.size_after == size
        assert dry.size_after == real.size_after
        assert [r.document_id for r in dry.removed] == [r.document_id for r in real.removed]
        if size > limit:
            for document_id in self._docs():
                pinned = last_used(self.store, document_id) >= self.clock - PIN_MINUTES * 60
                assert pinned or document_id in self.locks, document_id
        for removed in real.removed:
            assert removed.document_id not in self.locks

    @invariant()
    def consistent(self) -> None:
        if hasattr(self, "store"):
            assert consistency_problems(self.store) == []


CleanupMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=list(HealthCheck),  # CI machines are slow and shared
)
TestCleanupStateful = CleanupMachine.TestCase
