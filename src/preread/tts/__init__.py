"""Text-to-speech providers behind one interface (``preread.tts.base.Provider``).

``make_provider(settings)`` builds the one the settings name: ``piper`` (default,
embedded offline voice), ``openai`` (and OpenAI-compatible servers), ``espeak``
(the robotic last resort for languages no other voice speaks), ``fake`` (a tone
per sentence, for tests and demos).
"""

from __future__ import annotations

from preread.errors import BadSettings
from preread.settings import Settings
from preread.tts.base import AudioChunk, Provider
from preread.voice import ResolvedVoice

PROVIDERS = ("piper", "openai", "espeak", "fake")

__all__ = ["PROVIDERS", "AudioChunk", "Provider", "ResolvedVoice", "make_provider"]


def make_provider(settings: Settings) -> Provider:
    name = settings.voice.provider
    if name == "fake":
        from preread.tts.fake import FakeProvider

        return FakeProvider(delay=settings.fake_delay, fixed_seconds=settings.fake_seconds)
    if name == "piper":
        from preread.tts.piper import PiperProvider

        return PiperProvider(workers=settings.synth_workers, models_dir=settings.home / "models")
    if name == "openai":
        from preread.tts.openai import OpenAIProvider

        limits = settings.limits_for(name)
        return OpenAIProvider(
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url,
            max_attempts=limits.attempts,
            timeout=limits.timeout,
            retry_budget=limits.retry_budget,
        )
    if name == "espeak":
        from preread.tts.espeak import EspeakProvider

        return EspeakProvider()
    raise BadSettings(f"unknown provider {name!r}: use one of {', '.join(PROVIDERS)}")
