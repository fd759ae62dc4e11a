"""A voice per language: which voice speaks a block, given its language.

A Piper model is named for its language (``en_US-joe-medium``, ``fr_FR-siwis-medium``),
so it speaks that language only; espeak's voice is its language; OpenAI's voices (and
compatible servers') and the ``fake`` tone speak any language.

``LanguageVoices.route(language, asked)`` picks who speaks a block in ``language``
when the document's voice is ``asked``:

1. the voice the settings map the language to (``PREREAD_VOICE_FR=openai:nova``), at
   the document's speed and format: kind ``language``;
2. else ``asked`` itself when it speaks the language (None: no detour);
3. else espeak-ng's voice for the language (``preread.tts.espeak``): kind
   ``last-resort``, a robotic voice, but the words are said in their language;
4. else nobody: ``check`` refuses such a document with one clear ``BadInput``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from preread.errors import BadInput
from preread.settings import VoiceSettings
from preread.tts.base import Provider
from preread.voice import ResolvedVoice

_MODEL_LANGUAGE = re.compile(r"^(?P<code>[a-z]{2,3})(?:[_-]|$)")
NAMES = {"en": "English", "fr": "French", "de": "German", "es": "Spanish", "it": "Italian"}
LANGUAGE = "language"  # a voice the settings map the block's language to
LAST_RESORT = "last-resort"  # espeak-ng: no other voice speaks the language
ESPEAK_NAMES = {"zh": "cmn", "nb": "no"}  # detected code → espeak-ng's voice


def voice_languages(voice: ResolvedVoice) -> frozenset[str] | None:
    """The ISO 639-1 codes ``voice`` speaks; None when it speaks any language."""
    if voice.provider == "espeak":
        return frozenset([voice.voice])
    if voice.provider != "piper":
        return None
    match = _MODEL_LANGUAGE.match(voice.model.lower())
    return frozenset([match.group("code")]) if match else None


def speaks(voice: ResolvedVoice, language: str) -> bool:
    spoken = voice_languages(voice)
    return not language or spoken is None or language in spoken


@dataclass(frozen=True)
class Route:
    """Who speaks a block instead of the document's voice, and why (``kind``)."""

    provider: Provider
    voice: ResolvedVoice
    kind: str


class LanguageVoices:
    """``mapping``: language → voice settings; ``provider_for``: providers by name."""

    def __init__(
        self, mapping: Mapping[str, VoiceSettings], provider_for: Callable[[str], Provider]
    ) -> None:
        self.mapping = dict(mapping)
        self.provider_for = provider_for
        self._routes: dict[tuple[str, ResolvedVoice], Route | None] = {}
        self._lock = threading.Lock()

    def route(self, language: str, asked: ResolvedVoice) -> Route | None:
        """Who speaks a block in ``language`` of a document voiced by ``asked``; None:
        ``asked`` does (also when nobody else can). Resolved once per pair."""
        if not language:
            return None
        with self._lock:
            if (language, asked) in self._routes:
                return self._routes[(language, asked)]
        found = self._find(language, asked)
        with self._lock:
            self._routes[(language, asked)] = found
        return found

    def _find(self, language: str, asked: ResolvedVoice) -> Route | None:
        settings = self.mapping.get(language)
        if settings is not None:
            provider = self.provider_for(settings.provider)
            voice = provider.resolve(replace(settings, speed=asked.speed, format=asked.format))
            voice = replace(voice, level=asked.level)  # levelled as the document is
            return None if voice == asked else Route(provider, voice, LANGUAGE)
        if speaks(asked, language):
            return None
        from preread.tts.espeak import espeak_languages

        name = ESPEAK_NAMES.get(language, language)
        if name not in espeak_languages():
            return None
        provider = self.provider_for("espeak")
        voice = provider.resolve(
            VoiceSettings("espeak", voice=name, speed=asked.speed, format=asked.format)
        )
        voice = replace(voice, level=asked.level)
        return Route(provider, voice, LAST_RESORT)

    def check(self, language: str, asked: ResolvedVoice, name: str) -> None:
        """``BadInput`` when no voice can speak ``language`` (the document ``name``'s)."""
        if speaks(asked, language) or self.route(language, asked) is not None:
            return
        lang = NAMES.get(language, language)
        spoken = voice_languages(asked) or frozenset()
        voice_langs = ", ".join(NAMES.get(code, code) for code in sorted(spoken))
        raise BadInput(
            f"{name} is in {lang} ({language}) and the voice {asked.model} ({asked.provider}) "
            f"speaks {voice_langs} only, nor has espeak-ng a {lang} voice: set "
            f"PREREAD_VOICE_{language.upper()}=… to a {lang} voice or use a provider that "
            f"speaks {lang} (--provider openai); --language overrides the detected language"
        )
