"""The engines a library speaks with: providers built once, voice identity, chunk makers.

``Engines(settings, provider=None)``: ``provider_for(name)`` builds each provider on
first need and keeps it; ``resolve`` turns settings into the exact voice;
``voice_of(manifest)`` is the one rule for which voice a manifest's audio was made
with, ``spoken_voice(manifest, entry)`` which voice spoke one of its chunks (a
fallback's, a language's: its blob's content key), and ``matches`` whether that is
the voice asked for. ``maker(name)`` is the
chunk maker of a provider, one per library: its single flight (one synthesis of a
given content at a time) covers every caller of the library, and every process whose
library shares the store (a file lock per content key, ``preread.flights``).
``observe`` is told of every synthesis (kept in the store's synthesis journal,
``preread.latency``, and passed to ``listeners``: the server's metrics), ``health``
gives each provider's breaker state.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from preread.errors import PrereadError
from preread.flights import Flights
from preread.generate import ChunkMaker
from preread.latency import SynthesisLog
from preread.manifest import ChunkEntry, Manifest, manifest_matches
from preread.settings import Settings, VoiceSettings
from preread.store import Store
from preread.tts.base import Provider
from preread.tts.breaker import Breaker
from preread.tts.chain import Chain, spoken_by
from preread.tts.languages import LanguageVoices
from preread.voice import ResolvedVoice

FLIGHTS_DIR = "flights"  # under the store's locks/: one KEY.flight per synthesis under way


@dataclass
class Listeners:
    """Who else hears of syntheses and fallbacks (the server's metrics)."""

    synthesized: list[Callable[[str, float], None]] = field(default_factory=list)
    fell_back: list[Callable[[str], None]] = field(default_factory=list)


class Engines:
    def __init__(self, settings: Settings, store: Store, provider: Provider | None = None) -> None:
        """``provider`` replaces the engine ``settings`` name (tests, embedding)."""
        self.settings = settings
        self.store = store
        self._providers: dict[str, Provider] = {}
        if provider is not None:
            self._providers[settings.voice.provider] = provider
        self._makers: dict[str, ChunkMaker] = {}
        self._breakers: dict[str, Breaker] = {}
        # one content-key single flight for every maker, run and speech answer, held
        # across the processes sharing the store too (file locks in locks/flights)
        self.flights: Flights[str] = Flights(store.locks_dir / FLIGHTS_DIR)
        self.synthesis_log = SynthesisLog(store.synthesis_log_path)
        self.listeners = Listeners()
        self._lock = threading.Lock()
        # who speaks a block in a language the asked voice is not for
        self.languages = LanguageVoices(dict(settings.voice_by_language), self.provider_for)

    def provider_for(self, name: str | None = None) -> Provider:
        """The provider called ``name`` (default: the configured one), built once."""
        name = name or self.settings.voice.provider
        with self._lock:
            found = self._providers.get(name)
            if found is None:
                from preread.tts import make_provider

                voice = replace(self.settings.voice, provider=name)
                found = self._providers[name] = make_provider(replace(self.settings, voice=voice))
            return found

    def resolve(self, voice: VoiceSettings | None = None) -> ResolvedVoice:
        """``voice`` (default: the configured one) as its provider will speak it."""
        voice = voice or self.settings.voice
        return self.provider_for(voice.provider).resolve(voice)

    def voice_of(self, manifest: Manifest) -> ResolvedVoice:
        """The voice the manifest's audio was made with, as its provider resolves it (so
        the content key has what the manifest does not record, e.g. an endpoint)."""
        return replace(self.resolve(manifest.voice_settings()), level=manifest.level)

    def spoken_voice(self, manifest: Manifest, entry: ChunkEntry) -> ResolvedVoice:
        """The voice that spoke ``entry``, as its blob's content key hashes it: the
        manifest's, or the one its ``spokenBy`` names, as the maker resolved it (a
        language's voice as the settings map its language; a fallback's by its provider,
        at the document's speed, format and level, so an endpoint is in the key too)."""
        voice = self.voice_of(manifest)
        if entry.spoken_by is None:
            return voice
        if entry.spoken_kind != "fallback" and entry.language:
            route = self.languages.route(entry.language, voice)
            if route is not None and spoken_by(route.voice) == entry.spoken_by:
                return route.voice
        provider, model, name = entry.spoken_by
        try:
            settings = VoiceSettings(
                provider, model or None, name or None, voice.speed, voice.format
            )
            found = self.provider_for(provider).resolve(settings)
        except PrereadError:  # not a provider this instance can build: the names alone
            found = ResolvedVoice(provider, model, name, voice.speed, voice.format)
        return replace(found, level=voice.level)

    @staticmethod
    def matches(manifest: Manifest, voice: ResolvedVoice) -> bool:
        """Whether the manifest's audio is ``voice``'s."""
        return manifest_matches(manifest, voice)

    def breaker(self, name: str) -> Breaker:
        """Provider ``name``'s circuit breaker, one per library."""
        with self._lock:
            found = self._breakers.get(name)
            if found is None:
                limits = self.settings.limits_for(name)
                found = self._breakers[name] = Breaker(
                    limits.breaker_failures,
                    limits.breaker_cooldown,
                    window=limits.breaker_window,
                    rate_failures=limits.breaker_rate_failures,
                )
            return found

    def observe(self, provider: str, seconds: float, chars: int) -> None:
        """A chunk's synthesis by ``provider`` took ``seconds`` (``ChunkMaker.observe``)."""
        self.synthesis_log.record(provider, seconds, chars)
        for listener in list(self.listeners.synthesized):
            listener(provider, seconds)

    def _fell_back(self, provider: str) -> None:
        for listener in list(self.listeners.fell_back):
            listener(provider)

    @property
    def chain_names(self) -> list[str]:
        """The configured providers, in the chain's order."""
        first = self.settings.voice.provider
        return [first, *(n for n in self.settings.fallback_providers if n != first)]

    def health(self) -> dict[str, dict[str, Any]]:
        """Each configured provider's breaker: ``{name: {breaker, reason?}}``; Piper's
        sentences synthesized so far by ONNX threads (``sentencesByThreads``)."""
        with self._lock:
            breakers = dict(self._breakers)
            providers = dict(self._providers)
        out: dict[str, dict[str, Any]] = {}
        for name in self.chain_names:
            found = breakers.get(name)
            item: dict[str, Any] = {"breaker": "closed" if found is None else found.state}
            if found is not None and item["breaker"] != "closed" and found.reason:
                item["reason"] = found.reason
            by_threads = getattr(providers.get(name), "syntheses", None)  # Piper's sessions
            if by_threads:
                item["sentencesByThreads"] = {str(k): n for k, n in sorted(by_threads.items())}
            out[name] = item
        return out

    def chain(self, provider: Provider) -> Chain | None:
        """The engine chain ``provider`` heads: the configured one with fallbacks."""
        fallbacks = [n for n in self.settings.fallback_providers if n != provider.name]
        if provider.name != self.settings.voice.provider or not fallbacks:
            return None
        links = [provider, *(self.provider_for(name) for name in fallbacks)]
        return Chain([(p, self.breaker(p.name)) for p in links], self._fell_back)

    def maker(self, provider_name: str | None = None) -> ChunkMaker:
        provider = self.provider_for(provider_name)
        with self._lock:
            found = self._makers.get(provider.name)
        if found is None:
            chain = self.chain(provider)
            with self._lock:
                found = self._makers.setdefault(
                    provider.name,
                    ChunkMaker(
                        self.store, provider, self.flights, chain, self.observe, self.languages
                    ),
                )
        return found

    def close(self) -> None:
        with self._lock:
            providers, self._providers = list(self._providers.values()), {}
            self._makers.clear()
        for provider in providers:
            provider.close()
