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


@dataclass(frozen=True)
class ResolvedVoice:
    """The exact settings a provider will use: what manifests record and keys hash."""

    provider: str
    model: str
    voice: str
    speed: float
    format: str
    instructions: str | None = None
    # Which server speaks (e.g. an OpenAI-compatible base URL, credentials stripped):
    # the same model and voice names on two servers are different voices.
    endpoint: str | None = None

    def key_material(self) -> str:
        parts = [self.provider, self.model, self.voice, f"{self.speed:.4f}", self.format]
        if self.instructions:
            parts.append(self.instructions)
        if self.endpoint:
            parts.append("endpoint=" + self.endpoint)
        return "\x1f".join(parts)


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
