"""A preprocess job's figures: ``Progress`` while it runs, ``Summary`` when it ends.

``preread.preprocess.run_preprocess`` fills them in (and re-exports them); the CLI
prints them, the server's job routes and queue workers send ``to_json()`` (the
contract's progress object).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Progress:
    document_id: str
    total: int
    done: int = 0
    failed: int = 0
    bytes: int = 0
    duration: float = 0.0  # seconds of audio in the folder
    elapsed: float = 0.0
    eta: float | None = None
    chars_per_second: float = 0.0  # synthesized characters per wall second
    real_time_factor: float | None = None  # wall seconds per second of audio synthesized
    fallback: int = 0  # done chunks an engine chain's fallback spoke
    state: str = "running"

    def to_json(self) -> dict[str, Any]:
        return {
            "documentId": self.document_id,
            "state": self.state,
            "total": self.total,
            "done": self.done,
            "failed": self.failed,
            "fallback": self.fallback,
            "bytes": self.bytes,
            "duration": round(self.duration, 3),
            "elapsed": round(self.elapsed, 3),
            "eta": None if self.eta is None else round(self.eta, 1),
            "charsPerSecond": round(self.chars_per_second, 1),
            "realTimeFactor": None
            if self.real_time_factor is None
            else round(self.real_time_factor, 4),
        }


@dataclass
class Summary:
    progress: Progress
    audio_dir: Path
    generated: int = 0  # synthesized now
    reused: int = 0  # linked from a stored blob (dedup, earlier settings, crash leftovers)
    skipped: int = 0  # already done and valid
    repaired: int = 0  # done but invalid on disk: redone
    upgraded: int = 0  # spoken by a fallback, now by the primary (``upgrade``)
    failures: list[tuple[int, str]] = field(default_factory=list)

    @property
    def state(self) -> str:
        return self.progress.state

    def to_json(self) -> dict[str, Any]:
        data = self.progress.to_json()
        data.update(
            audioDir=str(self.audio_dir),
            generated=self.generated,
            reused=self.reused,
            skipped=self.skipped,
            repaired=self.repaired,
            upgraded=self.upgraded,
            failures=[{"index": i, "error": e} for i, e in sorted(self.failures)],
        )
        return data
