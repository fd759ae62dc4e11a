"""Word times: recorded per chunk in the manifest and the blob's sidecar, and sane."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable

import pytest

from preread.blobs import BlobStore, blob_key
from preread.errors import BadSettings
from preread.manifest import ChunkEntry, Manifest, SentenceTime
from preread.model import Block, DocumentText
from preread.preprocess import run_preprocess
from preread.settings import Settings, VoiceSettings
from preread.store import Store
from preread.tts import make_provider
from preread.tts.fake import FakeProvider
from preread.tts.piper import PIPER_MODEL, PiperProvider
from preread.tts.piper_words import match_words

MakeDoc = Callable[..., DocumentText]


def check_word_times(entry: ChunkEntry) -> None:
    """Monotonic, inside the chunk, one per word, the first at its sentence's start."""
    assert entry.duration is not None
    for sentence in entry.sentences:
        assert sentence.words is not None, sentence
        assert len(sentence.words) == len(sentence.text.split())
        assert sentence.words[0][0] == pytest.approx(sentence.start, abs=0.0015)
        for start, end in sentence.words:
            assert sentence.start - 0.0015 <= start <= end <= sentence.end + 0.0015
        flat = [t for pair in sentence.words for t in pair]
        assert all(a <= b for a, b in itertools.pairwise(flat))
        assert sentence.end <= entry.duration + 0.0015
        assert not sentence.estimated


def test_fake_voice_times_every_word(store: Store, make_doc: MakeDoc) -> None:
    doc = make_doc([["The first page opens. It is short, and then it ends."]])
    voice = VoiceSettings(provider="fake")
    assert run_preprocess(store, FakeProvider(), doc, voice).state == "complete"
    manifest = store.require_manifest(doc.document_id)
    (entry,) = manifest.chunks
    check_word_times(entry)
    # the manifest on disk carries them compactly: milliseconds, start and end per word
    raw = json.loads(store.manifest_path(doc.document_id).read_bytes())
    words = raw["chunks"][0]["sentences"][1]["words"]
    assert len(words) == 2 * len(entry.sentences[1].text.split())
    assert all(isinstance(v, int) for v in words)
    # and so does the blob's sidecar, with the voice it was made with
    key = blob_key(entry.text, FakeProvider().resolve(voice))
    info = BlobStore(store).read(key, "mp3")
    assert info is not None
    assert [s.words for s in info.sentences] == [s.words for s in entry.sentences]
    sidecar = json.loads(BlobStore(store).sidecar_path(key).read_bytes())
    assert len(sidecar["voice"]) == 16


def test_fake_voice_with_fixed_seconds_makes_whole_chunks_of_that_length(
    store: Store, make_doc: MakeDoc
) -> None:
    """``PREREAD_FAKE_SECONDS`` (the workers benchmark's fixed synthesis delay): every
    sentence that long whatever its text, words still timed, chunks still whole."""
    env = {
        "PREREAD_HOME": str(store.home),
        "PREREAD_PROVIDER": "fake",
        "PREREAD_FAKE_SECONDS": "0.3",
    }
    settings = Settings.load(env)
    assert settings.fake_seconds == 0.3
    provider = make_provider(settings)
    doc = make_doc([["A short one. Then a much longer sentence, with many more words in it."]])
    voice = VoiceSettings(provider="fake")
    assert run_preprocess(store, provider, doc, voice).state == "complete"
    (entry,) = store.require_manifest(doc.document_id).chunks
    check_word_times(entry)
    lengths = [s.end - s.start for s in entry.sentences]
    assert lengths == pytest.approx([0.3, 0.3], abs=0.03)
    assert entry.duration == pytest.approx(0.6, abs=0.06)
    with pytest.raises(BadSettings, match="PREREAD_FAKE_SECONDS"):
        Settings.load({**env, "PREREAD_FAKE_SECONDS": "0"})


def test_word_times_survive_a_manifest_round_trip() -> None:
    sentence = SentenceTime("Two words.", 0.5, 1.25, [(0.5, 0.8), (0.9, 1.1)])
    guess = SentenceTime("A guess.", 1.25, 2.0, estimated=True)
    entry = ChunkEntry(0, 1, 0, "Two words. A guess.", "a.mp3", sentences=[sentence, guess])
    manifest = Manifest("ab" * 32, "a.pdf", "A", 1, "fake", "tone-1", "tone", 1.0, "mp3")
    manifest.chunks = [entry]
    back = Manifest.loads(manifest.dumps()).chunks[0].sentences
    assert back[0].words == [(0.5, 0.8), (0.9, 1.1)] and not back[0].estimated
    assert back[1].words is None and back[1].estimated
    assert "estimated" not in back[0].to_json() and "words" not in back[1].to_json()


def test_words_match_spoken_phonemes_when_espeak_joins_and_splits_words() -> None:
    # "on the" is one spoken word, "1984" three, "—" none: matched by phonemes
    words = ["ɔn", "ðə", "naɪntiːn", "", "ɔːɹ"]
    spoken = "ɔnðənaɪntiːnɔːɹ"
    spans = [(i * 10, i * 10 + 10) for i in range(len(spoken))]
    result = match_words(words, spoken, spans)
    assert result[0] == (0, 20)
    assert result[1] == (20, 40)
    assert result[2] == (40, 120)
    assert result[3] == (120, 120)  # silent: a point where the previous word ends
    assert result[4] == (120, 150)


def test_a_provider_without_timings_marks_reshaped_times_estimated(
    store: Store, make_doc: MakeDoc
) -> None:
    # the same text stored before with another split: times by character share, marked
    from preread.blobs import fit_times

    entry = ChunkEntry.for_block(Block(0, 1, 0, "One two. Three.", ("One two. Three.",)), "mp3")
    stored = (SentenceTime("One two.", 0.0, 1.0), SentenceTime("Three.", 1.0, 2.0))
    (only,) = fit_times(stored, entry, 2.0)
    assert only.estimated and only.words is None


@pytest.mark.slow
def test_piper_times_words_with_a_model_patched_once(store: Store) -> None:
    sentences = ("The keeper climbed the stairs in 1984.", "Far out at sea — a ship saw it.")
    block = Block(0, 1, 0, " ".join(sentences), sentences)
    doc = DocumentText("cd" * 32, "short.pdf", "Short", 1, blocks=(block,))
    provider = PiperProvider(workers=1, models_dir=store.home / "models")
    assert run_preprocess(store, provider, doc, VoiceSettings()).state == "complete"
    patched = store.home / "models" / f"{PIPER_MODEL}.aligned.onnx"
    assert patched.stat().st_size > 50_000_000
    assert [p.name for p in patched.parent.iterdir()] == [patched.name]  # no temp left
    (entry,) = store.require_manifest(doc.document_id).chunks
    check_word_times(entry)
    first, second = entry.sentences
    assert first.words is not None and second.words is not None
    # words take time, and "1984" (three spoken words) takes longer than "in"
    assert all(end - start > 0.03 for start, end in first.words)
    assert first.words[6][1] - first.words[6][0] > first.words[5][1] - first.words[5][0]
    assert second.words[4][1] - second.words[4][0] < 0.01  # "—" is not spoken
