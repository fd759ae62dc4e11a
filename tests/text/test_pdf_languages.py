"""Languages: detected per document and per chapter, sentences split and hyphens
repaired with that language's rules, recorded in blocks, registration and manifest, and
a voice that cannot speak it refused with one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pdfmaker import Page, make_pdf

from preread.cli import main
from preread.model import DocumentText
from preread.pdf import read_document, split_sentences
from preread.pdf.hyphenation import keep_hyphen
from preread.pdf.language import LanguageTracker, detect_language
from preread.settings import TextSettings

FRENCH = [
    "Le matin, M. Dupont ouvre la boutique du village et range les journaux.",
    "Vers neuf heures, les premiers clients arrivent, p. ex. le boulanger et sa",
    "femme, qui achètent toujours le même quotidien. MM. Petit et Durand passent",
    "ensuite pour parler de la réunion du 3 oct. au sujet de la nouvelle route.",
    "« Viens ici ! » crie le maire depuis la place. Personne ne répond. Le texte",
    "compte env. 210 mots et se lit en deux minutes. Le déve-",
    "loppement du village est lent, mais la population augmente chaque année.",
]
FRENCH_SENTENCES = [
    "Le matin, M. Dupont ouvre la boutique du village et range les journaux.",
    "Vers neuf heures, les premiers clients arrivent, p. ex. le boulanger et sa femme, qui "
    "achètent toujours le même quotidien.",
    "MM. Petit et Durand passent ensuite pour parler de la réunion du 3 oct. au sujet de la "
    "nouvelle route.",
    "« Viens ici ! » crie le maire depuis la place.",
    "Personne ne répond.",
    "Le texte compte env. 210 mots et se lit en deux minutes.",
    "Le développement du village est lent, mais la population augmente chaque année.",
]
GERMAN = [
    "Am 3. Oktober ist in Deutschland ein Feiertag, und die Geschäfte bleiben",
    "geschlossen. Viele Familien machen einen Ausflug, z. B. an einen See oder in",
    "die Berge. Die Stadt hat ca. 3500 Einwohner, d. h. fast jeder kennt jeden.",
    "Dr. Müller wohnt im 2. Stock des alten Hauses am Markt (vgl. Abbildung 1.4).",
    "Er sagt: „Ich komme morgen.“ Das glaubt ihm niemand mehr. Die Eisen-",
    "bahn fährt zweimal am Tag, und der Hausdorff-",
    "Raum ist ein Begriff aus der Topologie, den hier niemand kennt.",
]
GERMAN_SENTENCES = [
    "Am 3. Oktober ist in Deutschland ein Feiertag, und die Geschäfte bleiben geschlossen.",
    "Viele Familien machen einen Ausflug, z. B. an einen See oder in die Berge.",
    "Die Stadt hat ca. 3500 Einwohner, d. h. fast jeder kennt jeden.",
    "Dr. Müller wohnt im 2. Stock des alten Hauses am Markt (vgl. Abbildung 1.4).",
    "Er sagt: „Ich komme morgen.“",
    "Das glaubt ihm niemand mehr.",
    "Die Eisenbahn fährt zweimal am Tag, und der Hausdorff-Raum ist ein Begriff aus der "
    "Topologie, den hier niemand kennt.",
]
ENGLISH = [
    "The lighthouse stands on the cliff above the harbour, and every evening its keeper",
    "climbs the narrow stairs to light the lamp. Ships pass far out at sea, and the",
    "sailors are glad of the light when the weather turns and the fog comes in from",
    "the west. The keeper writes in his log each night and reads old books by the",
    "fire. In the morning he walks down to the village to buy bread and to talk",
    "with the fishermen about the weather, the nets and the price of fish.",
]

ENGLISH_2 = [
    "Winter came early that year. Snow covered the road to the village for weeks,",
    "and the keeper lived on bread, cheese and the apples he had stored in the",
    "cellar. He mended the nets that the fishermen had left with him and wrote long",
    "letters to his sister in the city, telling her about the storms, the birds and",
    "the ships that passed. When spring came at last, he walked down the hill and",
    "posted all the letters at once, which made the postmaster laugh out loud.",
]
ENGLISH_3 = [
    "Years later, a new lamp was brought up from the city on a cart pulled by two",
    "horses. It burned oil no longer but ran on a machine that hummed all night in",
    "the small room under the stairs. The keeper did not trust it at first, so he",
    "kept the old lamp clean and ready beside it, just in case. The machine never",
    "failed, but he went on polishing the old lamp every Sunday until the day he",
    "retired and handed the keys to a young woman from the harbour office.",
]
FRENCH_2 = [
    "L'hiver est arrivé très tôt cette année-là. La neige a couvert la route du",
    "village pendant des semaines, et le gardien a vécu de pain, de fromage et des",
    "pommes qu'il avait rangées dans la cave. Il a réparé les filets que les pêcheurs",
    "lui avaient laissés et il a écrit de longues lettres à sa sœur, qui habitait en",
    "ville, pour lui raconter les tempêtes, les oiseaux et les bateaux qui passaient",
    "au loin. Au printemps, il est descendu au village pour poster toutes ses lettres.",
]


def _sentences(doc: DocumentText) -> list[str]:
    return [s for b in doc.blocks for s in b.sentences]


def test_a_french_document_is_read_with_french_rules(tmp_path: Path) -> None:
    doc = read_document(make_pdf(tmp_path / "fr.pdf", [Page(lines=FRENCH)]))
    assert doc.language == "fr"
    assert {b.language for b in doc.blocks} == {"fr"}
    assert _sentences(doc) == FRENCH_SENTENCES


def test_a_german_document_is_read_with_german_rules(tmp_path: Path) -> None:
    doc = read_document(make_pdf(tmp_path / "de.pdf", [Page(lines=GERMAN)]))
    assert doc.language == "de"
    assert _sentences(doc) == GERMAN_SENTENCES


def test_a_chapter_in_another_language_is_read_in_it(tmp_path: Path) -> None:
    texts = [ENGLISH, ENGLISH_2, FRENCH, FRENCH_2, ENGLISH_3]
    pages = [Page(lines=lines) for lines in texts]
    outline = [("The Lighthouse", 0), ("Le village", 2), ("Back Home", 4)]
    doc = read_document(make_pdf(tmp_path / "mixed.pdf", pages, outline=outline))
    assert doc.language == "en"
    pages = sorted({b.page for b in doc.blocks})
    assert pages == [1, 2, 3, 4, 5]
    languages = {p: {b.language for b in doc.blocks if b.page == p} for p in pages}
    assert languages == {1: {"en"}, 2: {"en"}, 3: {"fr"}, 4: {"fr"}, 5: {"en"}}
    assert [(c.title, c.language) for c in doc.chapters] == [
        ("The Lighthouse", ""),
        ("Le village", "fr"),
        ("Back Home", ""),
    ]
    assert [s for b in doc.blocks if b.page == 3 for s in b.sentences] == FRENCH_SENTENCES


def test_the_language_can_be_forced(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "fr.pdf", [Page(lines=FRENCH)])
    doc = read_document(path, text=TextSettings(language="de"))
    assert doc.language == "de" and {b.language for b in doc.blocks} == {"de"}


def test_detection_and_tracker() -> None:
    assert detect_language(" ".join(GERMAN))[0] == "de"
    assert detect_language(" ".join(FRENCH))[0] == "fr"
    assert detect_language("x = 2 + 3") == (None, 0.0)
    tracker = LanguageTracker()
    english, french = " ".join(ENGLISH), " ".join(FRENCH_2)
    assert tracker.page(english, english) == "en"
    assert tracker.page(french, english) == "en"  # one odd page does not switch
    assert tracker.page(french, french) == "fr"
    assert tracker.document_language() == "en"


def test_sentence_rules_per_language() -> None:
    assert split_sentences("Es gibt z. B. Äpfel. Am 3. Oktober ist Feiertag.", "de") == [
        "Es gibt z. B. Äpfel.",
        "Am 3. Oktober ist Feiertag.",
    ]
    assert split_sentences("MM. Petit et Durand ont signé. Elle part.", "fr") == [
        "MM. Petit et Durand ont signé.",
        "Elle part.",
    ]
    assert split_sentences("See Sect. 4.2 and Meth. Enzymol. 12 for this. It works.") == [
        "See Sect. 4.2 and Meth. Enzymol. 12 for this.",
        "It works.",
    ]


def test_hyphenation_per_language() -> None:
    assert not keep_hyphen("Eisen", "bahn", None, "de")  # a syllable break
    assert keep_hyphen("Hausdorff", "Raum", None, "de")  # a compound
    assert keep_hyphen("celle", "ci", None, "fr")
    assert not keep_hyphen("déve", "loppement", None, "fr")


def test_blocks_json_names_the_language(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = make_pdf(tmp_path / "de.pdf", [Page(lines=GERMAN)])
    assert main(["blocks", str(path), "--json"]) == 0
    assert {item["language"] for item in json.loads(capsys.readouterr().out)} == {"de"}
    assert main(["blocks", str(path), "--json", "--language", "fr"]) == 0
    assert {item["language"] for item in json.loads(capsys.readouterr().out)} == {"fr"}
    assert main(["blocks", str(path), "--language", "french!"]) == 2
    assert "bad language" in capsys.readouterr().err


def test_a_voice_that_cannot_speak_the_language_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only a language espeak-ng (the last resort) lacks too: French is read by it."""
    path = make_pdf(tmp_path / "fr.pdf", [Page(lines=FRENCH)])
    home = tmp_path / "home"
    code = main(["preprocess", str(path), "--provider", "piper", "--language", "wo",
                 "--home", str(home)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("preread: error: fr.pdf is in wo (wo)")
    assert "PREREAD_VOICE_WO=" in err and "--language" in err
    assert not (home / "tts_cache_v1").exists() or not any((home / "tts_cache_v1").iterdir())


def test_the_language_reaches_registration_and_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = make_pdf(tmp_path / "de.pdf", [Page(lines=GERMAN)])
    home = tmp_path / "home"
    assert main(["preprocess", str(path), "--provider", "fake", "--home", str(home)]) == 0
    capsys.readouterr()
    (folder,) = (home / "tts_cache_v1").iterdir()
    manifest = json.loads((folder / "tts.meta.json").read_text(encoding="utf-8"))
    assert manifest["language"] == "de"
    assert main(["blocks", folder.name, "--json", "--home", str(home)]) == 0
    assert {item["language"] for item in json.loads(capsys.readouterr().out)} == {"de"}
