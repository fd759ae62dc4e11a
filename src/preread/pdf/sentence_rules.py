"""Per-language word lists for sentence splitting (English, French, German; others get
Punkt's trained parameters where the ``punkt`` package ships them, with English fixes).

Each language has: titles (``Dr.``, ``M.``, ``MM.``, ``Hr.``), abbreviations that are
added to Punkt's (``z. B.``, ``d. h.``, ``p. ex.``, ``env.``), words that introduce a
number (``Fig. 3``, ``S. 42``, ``chap. 3``), abbreviations that never end a sentence,
and the capitalized words that start a sentence after an abbreviation that can end one
(``etc. Then``, ``usw. Dann``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


PUNKT_MODELS = {
    "cs": "czech",
    "da": "danish",
    "nl": "dutch",
    "en": "english",
    "et": "estonian",
    "fi": "finnish",
    "fr": "french",
    "de": "german",
    "el": "greek",
    "it": "italian",
    "ml": "malayalam",
    "no": "norwegian",
    "nb": "norwegian",
    "pl": "polish",
    "pt": "portuguese",
    "ru": "russian",
    "sl": "slovene",
    "es": "spanish",
    "sv": "swedish",
    "tr": "turkish",
}


@dataclass(frozen=True)
class Rules:
    language: str  # ISO 639-1 code of the rules used
    model: str  # the punkt.data module
    titles: frozenset[str]
    abbreviations: frozenset[str]
    numeric_only: frozenset[str]
    never_end: frozenset[str]
    can_end: frozenset[str]
    starters: frozenset[str]
    ordinal_nouns: bool  # "3. Oktober", "im 2. Stock": a number's full stop is an ordinal's

    @property
    def starter_pattern(self) -> re.Pattern[str]:
        return _starter_pattern(self.starters)


@lru_cache(maxsize=16)
def _starter_pattern(starters: frozenset[str]) -> re.Pattern[str]:
    return re.compile(
        r"(?:^|(?<=\s))(?P<abbr>[^\W\d_][^\W\d_.]*(?:\.[^\W\d_]+)*)\.(?P<gap>\s+)(?=(?:"
        + "|".join(sorted(starters, key=len, reverse=True))
        + r")\b)"
    )


ENGLISH = Rules(
    language="en",
    model="english",
    titles=_words(
        "mr mrs ms mx dr prof capt cpt col gen lt sgt maj cmdr adm gov pres sen rep rev hon fr"
        " st jr sr messrs mme mlle"
    ),
    abbreviations=_words(
        "etc al approx ca cf vs viz fig figs eq eqs vol vols ch chap sec secs sect pp ed eds"
        " dept univ inc ltd corp co est incl resp meth enzymol"
    ),
    numeric_only=_words(
        "fig figs sec secs sect no nos vol vols pp p ch chap chaps art arts eq eqs ref refs tab"
        " tabs para paras pt pts bk bks col cols ln lns approx ca circa nr num"
    ),
    never_end=_words("e.g i.e cf viz vs approx ca fig figs eq eqs no nos vol pp p ch sec sect"),
    can_end=_words("st jr sr"),
    starters=_words(
        "The Then We He She It They His Her Its Our Their All This That These Those There I You"
        " In On At But And So However After Before When If As My Your Some Many Most One What"
        " Why How Who Finally First Next Later Meanwhile Also Yet Still Thus Therefore Such"
        " Each Every Both Nobody Everyone Nothing Today Now"
    ),
    ordinal_nouns=False,
)

FRENCH = Rules(
    language="fr",
    model="french",
    titles=_words("m mm mme mmes mlle mlles dr pr me mgr st ste"),
    abbreviations=_words(
        "etc cf env p ex ch chap fig vol art av bd éd ed coll trad cie ann apr janv févr"
        " avr juil sept oct nov déc tab réf al ibid op cit n°"
    ),
    numeric_only=_words(
        "p pp chap ch fig figs vol art n no nos tab réf ex éd ann pl al sect § t"
        " janv févr avr juil sept oct nov déc"
    ),
    never_end=_words("p pp cf env ex chap ch fig vol art n no nos tab réf p.ex c.-à-d"),
    can_end=_words("etc cie"),
    starters=_words(
        "Le La Les Un Une Des Il Elle Ils Elles On Nous Vous Je Tu Ce Cet Cette Ces Son Sa Ses"
        " Leur Leurs Mais Et Ou Donc Puis Ensuite Enfin Alors Aujourd'hui Tout Tous Toutes"
        " Personne Rien Quand Si Comme Dans En Au Aux Pour Par Sur Selon Après Avant Depuis"
        " Certains D'autres Profitez"
    ),
    ordinal_nouns=False,
)

GERMAN = Rules(
    language="de",
    model="german",
    titles=_words("hr hrn fr frl dr prof dipl ing mag"),
    abbreviations=_words(
        "z b d h u a usw bzw vgl ca evtl ggf sog insbes inkl zzgl bspw etc abb kap abs anh"
        " nr s bd std min sek mo di mi do fr sa so jan feb mär apr jun jul aug sep sept okt"
        " nov dez jh jhd ff f hrsg aufl o.ä u.ä o.b.d.a i.a i.d.r z.t s.o s.u u.u"
    ),
    numeric_only=_words(
        "s abb kap abs nr bd art tab anh aufl jg ziff sp anm abschn ff f"
        " jan feb mär apr jun jul aug sep sept okt nov dez"
    ),
    never_end=_words("z.b d.h u.a vgl bzw ca evtl ggf sog insbes inkl abb kap abs anh nr s bd"),
    can_end=_words("usw etc std min sek ff f"),
    starters=_words(
        "Der Die Das Ein Eine Einer Er Sie Es Wir Ich Du Ihr Man Dann Danach Dort Hier Dies"
        " Diese Dieser Dieses Das Aber Und Auch So Im In Am Nach Bei Mit Zu Für Wenn Als Wie"
        " Was Wer Heute Jetzt Damit Deshalb Daher Doch Nun Alle Viele Einige Andere Niemand"
        " Nichts Sein Seine Ihre Unser Unsere Mehr Weitere Bitte Am Liebsten"
    ),
    ordinal_nouns=True,
)

_BY_CODE = {"en": ENGLISH, "fr": FRENCH, "de": GERMAN}


def rules_for(language: str | None) -> Rules:
    """The rules for an ISO 639-1 code; English's fixes with the language's Punkt model
    when only that is known; English for anything else."""
    code = (language or "en").lower()
    found = _BY_CODE.get(code)
    if found is not None:
        return found
    model = PUNKT_MODELS.get(code)
    if model is None:
        return ENGLISH
    return Rules(
        language=code,
        model=model,
        titles=frozenset(),
        abbreviations=frozenset(),
        numeric_only=frozenset(),
        never_end=frozenset(),
        can_end=frozenset(),
        starters=frozenset(["@@@"]),
        ordinal_nouns=False,
    )
