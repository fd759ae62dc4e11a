"""The provider interface: text in, PCM audio out, one ``AudioChunk`` per sentence.

A provider is loaded once per process and reused. ``resolve`` turns a
``VoiceSettings`` (which may leave model/voice to the provider's default) into the
exact model and voice names recorded in manifests and used in content keys, and
rejects settings the provider cannot honour (``BadSettings``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from preread.settings import VoiceSettings
from preread.voice import ResolvedVoice


@dataclass(frozen=True)
class AudioChunk:
    """PCM audio for one sentence: signed 16-bit little-endian, mono.

    ``words``: where each whitespace-separated word of ``text`` starts and ends, in
    samples from the start of ``pcm`` (None when the engine gives no timings).
    ``estimated``: the cut between this sentence and its neighbours is a guess (a
    provider that speaks a block in one piece), not an exact sample count.
    """

    text: str
    pcm: bytes
    sample_rate: int
    words: tuple[tuple[int, int], ...] | None = None
    estimated: bool = False

    @property
    def samples(self) -> int:
        return len(self.pcm) // 2

    @property
    def duration(self) -> float:
        return self.samples / self.sample_rate


class Provider(ABC):
    """A text-to-speech engine."""

    name: str = ""

    @abstractmethod
    def resolve(self, voice: VoiceSettings) -> ResolvedVoice:
        """Fill in defaults and validate; raise BadSettings for what cannot be honoured."""

    @abstractmethod
    def synthesize(self, sentences: Sequence[str], voice: ResolvedVoice) -> Iterator[AudioChunk]:
        """Yield one AudioChunk per sentence, in order, as soon as each is ready.

        Raises SynthesisFailed when the engine fails for good (after its own retries).
        """

    def voices(self) -> list[str]:
        """Voice names this provider accepts (may be empty when unknown)."""
        return []

    def models(self) -> list[str]:
        return []

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the provider holds (model weights, HTTP clients)."""
