"""How long a pre-generation has left, from the characters synthesized so far.

``Throughput`` is fed each synthesized chunk (its characters, how long its synthesis
took, its audio seconds) as the chunks arrive, and read as often as the caller likes
(the preprocess runner reads it every second):

- the rate is characters per wall second *since synthesis began* (the first chunk's
  arrival minus its synthesis time), so loading a voice before the first sentence and
  the workers' start-up do not make the first estimate absurd; several workers at once
  are counted as they really run;
- the ETA is what is left at that rate, counted down between chunks (not frozen until
  the next one arrives), and never negative;
- the real-time factor is wall seconds per second of audio, over the same span.

Nothing is estimated before the first synthesized chunk (``None``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Throughput:
    remaining_chars: int  # characters still to synthesize (or to skip: reused, failed)
    started: float | None = None  # when synthesis began (clock seconds)
    chars: int = 0  # characters synthesized
    audio: float = 0.0  # seconds of audio synthesized
    last: float | None = None  # when the last chunk arrived

    def done(self, chars: int) -> None:
        """A chunk left the queue (made, reused or failed): ``chars`` fewer to do."""
        self.remaining_chars = max(0, self.remaining_chars - chars)

    def synthesized(self, chars: int, seconds: float, audio: float, *, now: float) -> None:
        """A chunk was synthesized: ``chars`` characters in ``seconds``, ``audio`` seconds."""
        began = now - max(0.0, seconds)
        self.started = began if self.started is None else min(self.started, began)
        self.chars += chars
        self.audio += audio
        self.last = now

    def _span(self) -> float | None:
        if self.started is None or self.last is None:
            return None
        return max(self.last - self.started, 1e-6)

    @property
    def chars_per_second(self) -> float:
        span = self._span()
        return 0.0 if span is None or not self.chars else self.chars / span

    @property
    def real_time_factor(self) -> float | None:
        span = self._span()
        return None if span is None or self.audio <= 0 else span / self.audio

    def eta(self, now: float) -> float | None:
        """Seconds left: what remains at the measured rate, less the time since then."""
        rate = self.chars_per_second
        if rate <= 0 or self.last is None:
            return None
        return max(0.0, self.remaining_chars / rate - max(0.0, now - self.last))
