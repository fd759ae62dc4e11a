"""A voice per language (PREREAD_VOICE_FR=openai:nova) and espeak-ng as the last resort.

French and German Markdown documents read with the embedded English Piper voice: the
French blocks go to the voice the settings map French to (a real local server speaking
OpenAI's protocol), the German ones, with no mapping, to espeak-ng (the library the
Piper wheel ships), and the manifest says which voice spoke each chunk and why.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from openai_server import SpeechServer
from preread.audio import decode
from preread.cli import main
from preread.errors import BadSettings
from preread.settings import Settings, VoiceSettings
from preread.tts.espeak import EspeakProvider

DATA = Path(__file__).resolve().parent.parent / "data"
KEY = "sk-language-secret-0123456789"


def sentences(name: str, count: int) -> list[str]:
    lines = [ln for ln in (DATA / name).read_text("utf-8").splitlines() if ln and ln[0] != "#"]
    return [ln.replace(" || ", " ") for ln in lines[:count]]


def markdown(path: Path, sections: list[tuple[str, list[str]]]) -> Path:
    text = "\n\n".join(f"# {title}\n\n" + "\n\n".join(paras) for title, paras in sections)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def manifest_of(home: Path) -> dict:  # type: ignore[type-arg]
    (folder,) = (home / "tts_cache_v1").iterdir()
    return json.loads((folder / "tts.meta.json").read_text("utf-8"))  # type: ignore[no-any-return]


def audio_of(home: Path, chunk: dict) -> np.ndarray:  # type: ignore[type-arg]
    (folder,) = (home / "tts_cache_v1").iterdir()
    samples, _ = decode((folder / "chunks" / chunk["fileName"]).read_bytes())
    return samples


@pytest.fixture
def server() -> Iterator[SpeechServer]:
    with SpeechServer() as running:
        yield running


def test_settings_map_a_language_to_a_voice() -> None:
    settings = Settings.load(
        {
            "PREREAD_VOICE_FR": "openai:nova",
            "PREREAD_VOICE_DE": "espeak",
            "PREREAD_VOICE_ES": "openai:tts-1-hd:shimmer",
        },
        home="/tmp/x",
    )
    assert dict(settings.voice_by_language) == {
        "de": VoiceSettings("espeak"),
        "es": VoiceSettings("openai", model="tts-1-hd", voice="shimmer"),
        "fr": VoiceSettings("openai", voice="nova"),
    }
    with pytest.raises(BadSettings, match="PREREAD_VOICE_FR"):
        Settings.load({"PREREAD_VOICE_FR": "openai::"}, home="/tmp/x")
    with pytest.raises(BadSettings, match="PREREAD_VOICE_FRENCH"):
        Settings.load({"PREREAD_VOICE_FRENCH": "openai:nova"}, home="/tmp/x")


def test_espeak_speaks_from_the_piper_wheel() -> None:
    provider = EspeakProvider()
    voice = provider.resolve(VoiceSettings("espeak", voice="de"))
    assert (voice.model, voice.voice) == ("espeak-ng", "de")
    with pytest.raises(BadSettings, match="unknown voice"):
        provider.resolve(VoiceSettings("espeak", voice="xx"))
    chunks = list(provider.synthesize(["Guten Tag.", "Wie geht es Ihnen heute?"], voice))
    assert [c.text for c in chunks] == ["Guten Tag.", "Wie geht es Ihnen heute?"]
    for chunk in chunks:
        samples = np.frombuffer(chunk.pcm, dtype="<i2")
        assert chunk.sample_rate == 22050 and 0.4 < chunk.duration < 4
        assert np.abs(samples).max() > 3000  # speech, not silence
    assert chunks[1].duration > chunks[0].duration
    fast = list(provider.synthesize(["Wie geht es Ihnen heute?"], voice.__class__(
        "espeak", "espeak-ng", "de", 2.0, "mp3")))  # fmt: skip
    assert fast[0].duration < 0.75 * chunks[1].duration


def test_french_goes_to_the_mapped_voice_german_to_the_last_resort(
    tmp_path: Path,
    server: SpeechServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PREREAD_PROVIDER", "piper")
    monkeypatch.setenv("PREREAD_VOICE_FR", "openai:nova")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    french = markdown(
        tmp_path / "fr.md", [("Un document", sentences("tricky_sentences_fr.txt", 6))]
    )
    german = markdown(
        tmp_path / "de.md", [("Ein Dokument", sentences("tricky_sentences_de.txt", 6))]
    )

    fr_home = tmp_path / "fr-home"
    assert main(["preprocess", str(french), "--home", str(fr_home), "--json"]) == 0
    capsys.readouterr()
    manifest = manifest_of(fr_home)
    assert (manifest["ttsProvider"], manifest["language"]) == ("piper", "fr")
    assert manifest["chunks"] and all(c["status"] == "done" for c in manifest["chunks"])
    for chunk in manifest["chunks"]:
        assert chunk["spokenBy"] == {
            "provider": "openai", "model": "gpt-4o-mini-tts", "voice": "nova", "kind": "language"
        }  # fmt: skip
    asked = [r.body for r in server.requests if r.path.endswith("/audio/speech")]
    assert {body["voice"] for body in asked} == {"nova"}
    assert "M. Dupont est arrivé hier soir." in " ".join(body["input"] for body in asked)
    assert KEY not in json.dumps(manifest)

    monkeypatch.delenv("PREREAD_VOICE_FR")
    de_home = tmp_path / "de-home"
    before = len(server.requests)
    assert main(["preprocess", str(german), "--home", str(de_home), "--json"]) == 0
    capsys.readouterr()
    manifest = manifest_of(de_home)
    assert (manifest["ttsProvider"], manifest["language"]) == ("piper", "de")
    for chunk in manifest["chunks"]:
        assert chunk["status"] == "done"
        assert chunk["spokenBy"] == {
            "provider": "espeak", "model": "espeak-ng", "voice": "de",
            "kind": "last-resort", "robotic": True,
        }  # fmt: skip
        samples = audio_of(de_home, chunk)
        assert np.abs(samples).max() > 3000  # espeak spoke, not silence
        assert abs(len(samples) / 22050 - chunk["duration"]) < 0.01
        ends = [s["end"] for s in chunk["sentences"]]
        assert ends == sorted(ends) and ends[-1] == pytest.approx(chunk["duration"], abs=0.002)
    assert len(server.requests) == before  # no mapping: the server was not asked

    # the status of a document whose chunks a robotic voice spoke
    assert main(["status", manifest["documentId"], "--home", str(de_home), "--json"]) == 0


def test_blocks_in_another_language_go_to_its_voice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Per block: an English document (the fake tone) with a German section."""
    monkeypatch.setenv("PREREAD_VOICE_DE", "espeak")
    english = [line for line in sentences("tricky_sentences.txt", 14)]
    path = markdown(
        tmp_path / "mixed.md",
        [
            ("Introduction", english[:7]),
            ("Chapter two", english[7:]),
            ("Auf Deutsch", sentences("tricky_sentences_de.txt", 8)),
        ],
    )
    home = tmp_path / "home"
    assert main(["preprocess", str(path), "--provider", "fake", "--home", str(home)]) == 0
    capsys.readouterr()
    manifest = manifest_of(home)
    assert manifest["language"] == "en"
    german = [c for c in manifest["chunks"] if c.get("language") == "de"]
    english_chunks = [c for c in manifest["chunks"] if c.get("language", "en") == "en"]
    assert german and english_chunks
    assert all(c["spokenBy"]["provider"] == "espeak" for c in german)
    assert all(c["spokenBy"]["kind"] == "language" for c in german)
    assert all("spokenBy" not in c for c in english_chunks)


def test_a_language_no_voice_speaks_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = markdown(tmp_path / "wo.md", [("Title", sentences("tricky_sentences.txt", 3))])
    home = tmp_path / "home"
    code = main(["preprocess", str(path), "--provider", "piper", "--language", "wo",
                 "--home", str(home)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "(wo)" in err and "PREREAD_VOICE_WO=" in err and "espeak-ng" in err
