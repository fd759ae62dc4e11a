"""Which language a text is in: py3langid (its model ships in the wheel, 97 languages).

Format-neutral: ``detect_language`` takes text, ``LanguageTracker`` takes one text per
page (or section) in reading order and says which language each is read in. A
document has one language unless a run of pages plainly reads in another (a French
chapter in an English book): the tracker switches only when two consecutive pages,
each with enough text, agree with high confidence on the other language, so a page of
formulas or names never flips it.
"""

from __future__ import annotations

import threading
from collections import Counter
from functools import lru_cache
from typing import Any

DEFAULT_LANGUAGE = "en"
MIN_CHARS = 300
"""Text a page needs before it may switch the language."""
CONFIDENT = 0.9
SAMPLE_CHARS = 4000
_NO_LANGUAGE = frozenset(["zxx", "la"])  # "no linguistic content", and Latin's false alarms

NAMES = {
    "en": "English",
    "fr": "French",
    "de": "German",
    "es": "Spanish",
    "it": "Italian",
    "nl": "Dutch",
    "pt": "Portuguese",
    "pl": "Polish",
    "ru": "Russian",
    "sv": "Swedish",
    "da": "Danish",
    "no": "Norwegian",
    "fi": "Finnish",
    "cs": "Czech",
    "tr": "Turkish",
    "el": "Greek",
    "ja": "Japanese",
    "zh": "Chinese",
}
_lock = threading.Lock()


def language_name(code: str) -> str:
    """``fr`` → ``French``; the code itself when the name is not known."""
    return NAMES.get(code, code)


@lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@lru_cache(maxsize=8)
def detect_language(text: str) -> tuple[str | None, float]:
    """``(ISO 639-1 code, confidence 0–1)`` of ``text``; ``(None, 0.0)`` when there is
    too little text or no language in it. The last few answers are remembered (each
    page is asked about as itself and as the page after another)."""
    sample = text[:SAMPLE_CHARS]
    if sum(1 for ch in sample if ch.isalpha()) < 20:
        return None, 0.0
    with _lock:  # the identifier is not documented as thread-safe
        code, probability = _identifier().classify(sample)
    if code in _NO_LANGUAGE:
        return None, 0.0
    return str(code), float(probability)


class LanguageTracker:
    """Per-page languages in reading order, with a document language that a single odd
    page cannot move. ``fixed`` (``--language``) turns detection off."""

    def __init__(self, fixed: str | None = None) -> None:
        self.fixed = fixed
        self.current: str | None = fixed
        self.chars: Counter[str] = Counter()

    def start(self, text: str) -> None:
        """The language at the start, from the first pages' text together."""
        if self.current is None:
            code, _ = detect_language(text)
            self.current = code or DEFAULT_LANGUAGE

    def page(self, text: str, following: str = "") -> str:
        """The language ``text`` (one page) is read in; ``following`` is the next page's
        text, which must agree before the language switches."""
        if self.current is None:
            self.start(text + " " + following)
        current = self.current or DEFAULT_LANGUAGE
        if self.fixed is None and len(text) >= MIN_CHARS:
            code, confidence = detect_language(text)
            other = code is not None and code != current and confidence >= CONFIDENT
            if other and (len(following) < MIN_CHARS or detect_language(following)[0] == code):
                current = self.current = code or current
        self.chars[current] += len(text)
        return current

    def document_language(self) -> str:
        """The language most of the text read so far is in."""
        if self.fixed is not None:
            return self.fixed
        if self.chars:
            return self.chars.most_common(1)[0][0]
        return self.current or DEFAULT_LANGUAGE
