"""Line-end hyphenation: ``noti-/fies`` → ``notifies``, ``well-/known`` → ``well-known``.

The decision uses evidence, in this order:

1. the document itself (``Evidence``): if the hyphenated form appears elsewhere in it,
   keep the hyphen; if the joined form does, join;
2. a word list shipped by a PyPI package (``english-words``: Webster's 2nd and GCIDE,
   ~270k words, with plural/verb inflections stripped): a known joined word is joined; two known
   halves (``well`` + ``known``, ``state-of-the`` + ``art``) keep the hyphen;
3. otherwise the hyphen is a syllable break and the halves are joined.

Other languages (``language``, ISO 639-1) use the document's evidence, then that
language's hyphenation dictionary from ``pyphen`` (LibreOffice's patterns): the halves
are joined when the break falls on one of the joined word's syllable breaks, else the
hyphen is kept. A capitalized or numeric second half keeps it in every language
(``Hausdorff-Räume``, ``Covid-19``), and so do French enclitics (``celle-ci``,
``dit-il``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
_LINE_END_HYPHEN = re.compile(r"([^\W\d_]+(?:-[^\W\d_]+)*)-$")
_LEADING_WORD = re.compile(r"^([^\W_]+)")
_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("ies", "y"),
    ("ied", "y"),
    ("ier", "y"),
    ("iest", "y"),
    ("ily", "y"),
    ("es", ""),
    ("s", ""),
    ("ed", ""),
    ("ed", "e"),
    ("ing", ""),
    ("ing", "e"),
    ("er", ""),
    ("er", "e"),
    ("ers", ""),
    ("ers", "e"),
    ("est", ""),
    ("ly", ""),
    ("ness", ""),
    ("ment", ""),
    ("ments", ""),
    ("ation", "e"),
    ("ations", "e"),
    ("ation", ""),
)


@lru_cache(maxsize=1)
def word_list() -> frozenset[str]:
    """English words (lowercase letters only), from the ``english-words`` package."""
    from english_words import get_english_words_set

    # alpha=False: with alpha=True the package strips hyphens, so "well-known" would
    # become the word "wellknown"; hyphenated and dotted entries are left out here.
    words = get_english_words_set(["web2", "gcide"], lower=True, alpha=False)
    return frozenset(w for w in words if w.isalpha())


def is_word(word: str) -> bool:
    """``word`` (any case) or its stem without a common inflection is in the word list."""
    words = word_list()
    w = word.casefold()
    if w in words:
        return True
    for suffix, repl in _SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) >= 2:
            stem = w[: -len(suffix)] + repl
            if stem in words:
                return True
            # doubled consonant: running → run, stopped → stop
            if repl == "" and len(stem) >= 3 and stem[-1] == stem[-2] and stem[:-1] in words:
                return True
    return False


class Evidence:
    """Words seen in (a window of) the document: plain forms and hyphenated compounds."""

    def __init__(self) -> None:
        self.words: Counter[str] = Counter()

    @staticmethod
    def tokens(lines: Iterable[str]) -> Counter[str]:
        """The words of ``lines``, leaving out a fragment broken at a line end."""
        found: Counter[str] = Counter()
        after_hyphen = False
        for line in lines:
            words = _WORD.findall(line.casefold())
            if words and after_hyphen:
                words.pop(0)
            after_hyphen = line.endswith("-")
            if words and after_hyphen:
                words.pop()
            found.update(words)
        return found

    def add(self, tokens: Counter[str]) -> None:
        self.words.update(tokens)

    def remove(self, tokens: Counter[str]) -> None:
        self.words.subtract(tokens)
        for word in [w for w, n in self.words.items() if n <= 0]:
            del self.words[word]

    def has(self, word: str) -> bool:
        return self.words.get(word.casefold(), 0) > 0


def split_line_end(line: str) -> str | None:
    """The hyphenated word fragment at the end of ``line`` (without the hyphen), if any."""
    if not line.endswith("-"):
        return None
    tail = line[-120:]  # a paragraph grows; only its last word matters
    match = _LINE_END_HYPHEN.search(tail)
    if not match:
        return None
    start = match.start(1)
    if start == 0 and len(line) > len(tail):
        return None  # a "word" longer than 120 characters is no word
    if start > 0 and not tail[start - 1].isspace() and tail[start - 1] not in "([{\"'“‘/":
        return None
    return match.group(1)


_FRENCH_ENCLITICS = frozenset(
    (
        "ci",
        "là",
        "ce",
        "je",
        "tu",
        "il",
        "elle",
        "on",
        "nous",
        "vous",
        "ils",
        "elles",
        "le",
        "la",
        "les",
        "lui",
        "leur",
        "moi",
        "toi",
        "y",
        "en",
        "même",
        "être",
        "dire",
        "t",
    )
)


@lru_cache(maxsize=8)
def _dictionary(language: str) -> Any:
    import pyphen

    found = pyphen.language_fallback(language)
    return pyphen.Pyphen(lang=found) if found else None


def _keep_by_dictionary(last: str, right: str, language: str) -> bool:
    if language == "fr" and right.casefold() in _FRENCH_ENCLITICS:
        return True
    dictionary = _dictionary(language)
    if dictionary is None:
        return False  # no dictionary: a line-end hyphen is most often a syllable break
    return len(last) not in dictionary.positions((last + right).casefold())


def keep_hyphen(
    left: str, right: str, evidence: Evidence | None = None, language: str = "en"
) -> bool:
    """Whether ``left-`` at a line end + ``right`` is a real compound (keep the hyphen).

    ``left`` may itself contain hyphens (``state-of-the``); ``right`` is the next line's
    first word.
    """
    joined = left + right
    compound = f"{left}-{right}"
    if right[:1].isupper() or right[:1].isdigit():
        return True  # well-Known names, Covid-19: never a syllable break
    if evidence is not None:
        has_compound = evidence.has(compound)
        has_joined = evidence.has(joined)
        if has_compound != has_joined:
            return has_compound
    last = left.rsplit("-", 1)[-1]
    if language != "en":
        return _keep_by_dictionary(last, right, language)
    if is_word(last + right):
        return False
    return len(last) >= 2 and is_word(last) and is_word(right) and len(right) >= 2


def join_broken(
    line: str, next_line: str, evidence: Evidence | None = None, language: str = "en"
) -> str | None:
    """``line`` + ``next_line`` joined across a line-end hyphen, or None if ``line``
    does not end in a hyphenated word."""
    left = split_line_end(line)
    if left is None:
        return None
    match = _LEADING_WORD.match(next_line)
    if not match:
        return None
    right = match.group(1)
    if right[:1].isupper() and not left[:1].isupper():
        return None  # a dash before a name or a new sentence, not a broken word
    head = line[:-1]
    if keep_hyphen(left, right, evidence, language):
        return f"{head}-{next_line}"
    return head + next_line
