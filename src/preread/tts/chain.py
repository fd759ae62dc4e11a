"""An engine chain: providers in order, each behind its own circuit breaker.

``Chain([(provider, breaker), ...])``: ``run(voice, attempt)`` calls ``attempt``
with the first provider whose breaker lets a request through, and the voice it
speaks (the first provider gets ``voice``; a fallback its own default model and
voice at the same speed and format). A provider that fails (``SynthesisFailed``,
after its own retries) counts a failure on its breaker and the next one is asked;
a refusal retrying cannot fix (``Refused``: bad key, unknown voice) opens its
breaker at once. Each opening is logged once, not per chunk.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

from preread.errors import Refused, SynthesisFailed
from preread.settings import VoiceSettings
from preread.tts.base import Provider
from preread.tts.breaker import Breaker
from preread.voice import ResolvedVoice

log = logging.getLogger("preread.tts")

T = TypeVar("T")


def spoken_by(voice: ResolvedVoice) -> tuple[str, str, str]:
    """What a manifest records of the voice that spoke a chunk."""
    return (voice.provider, voice.model, voice.voice)


class Chain:
    def __init__(
        self,
        links: Sequence[tuple[Provider, Breaker]],
        on_fallback: Callable[[str], None] | None = None,
    ) -> None:
        """``on_fallback(name)``: a chunk was made by provider ``name``, not the first."""
        if not links:
            raise ValueError("an engine chain needs a provider")
        self.links = list(links)
        self.on_fallback = on_fallback

    @property
    def names(self) -> list[str]:
        return [provider.name for provider, _ in self.links]

    def voice_for(self, position: int, voice: ResolvedVoice) -> ResolvedVoice:
        """The voice link ``position`` speaks when ``voice`` is asked of the chain."""
        if position == 0:
            return voice
        provider = self.links[position][0]
        return provider.resolve(
            VoiceSettings(provider=provider.name, speed=voice.speed, format=voice.format)
        )

    def run(self, voice: ResolvedVoice, attempt: Callable[[Provider, ResolvedVoice], T]) -> T:
        """``attempt`` by the first provider able to; ``SynthesisFailed`` when none was."""
        reasons: list[str] = []
        for position, (provider, breaker) in enumerate(self.links):
            if not breaker.allow():
                reasons.append(f"{provider.name}: skipped, its breaker is open")
                continue
            try:
                result = attempt(provider, self.voice_for(position, voice))
            except Refused as exc:
                if breaker.trip(str(exc)):
                    log.warning("%s refused: %s; using the next provider", provider.name, exc)
                reasons.append(f"{provider.name}: {exc}")
                continue
            except SynthesisFailed as exc:
                if breaker.failure(str(exc)):
                    log.warning(
                        "%s failed %s (%s): skipped for %g s",
                        provider.name,
                        breaker.opened_by,
                        exc,
                        breaker.cooldown,
                    )
                reasons.append(f"{provider.name}: {exc}")
                continue
            except BaseException:
                breaker.abandon()
                raise
            breaker.success()
            if position and self.on_fallback is not None:
                self.on_fallback(provider.name)
            return result
        raise SynthesisFailed("; ".join(reasons))
