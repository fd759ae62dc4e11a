"""Which languages a voice speaks, and refusing a document it cannot read.

A Piper model is named for its language (``en_US-joe-medium``, ``fr_FR-siwis-medium``),
so it speaks that language only. OpenAI's voices (and compatible servers') and the
``fake`` tone speak any language. A document whose language the voice does not speak
is not read with the wrong accent: the caller gets one clear ``BadInput`` naming the
settings that fix it.
"""

from __future__ import annotations

import re

from preread.errors import BadInput
from preread.voice import ResolvedVoice

_MODEL_LANGUAGE = re.compile(r"^(?P<code>[a-z]{2,3})(?:[_-]|$)")
NAMES = {"en": "English", "fr": "French", "de": "German", "es": "Spanish", "it": "Italian"}


def voice_languages(voice: ResolvedVoice) -> frozenset[str] | None:
    """The ISO 639-1 codes ``voice`` speaks; None when it speaks any language."""
    if voice.provider != "piper":
        return None
    match = _MODEL_LANGUAGE.match(voice.model.lower())
    return frozenset([match.group("code")]) if match else None


def check_voice_speaks(language: str, voice: ResolvedVoice, name: str) -> None:
    """``BadInput`` when ``voice`` cannot speak ``language`` (the document ``name``'s)."""
    spoken = voice_languages(voice)
    if not language or spoken is None or language in spoken:
        return
    lang = NAMES.get(language, language)
    voice_langs = ", ".join(NAMES.get(code, code) for code in sorted(spoken))
    raise BadInput(
        f"{name} is in {lang} ({language}) and the voice {voice.model} ({voice.provider}) "
        f"speaks {voice_langs} only: set PREREAD_VOICE_{language.upper()}=… to a {lang} voice "
        f"or use a provider that speaks {lang} (--provider openai); --language overrides "
        "the detected language"
    )
