"""The two Piper sessions: one ONNX thread per synthesis, two for a synthesis running alone.

Which session a sentence runs on must never show in what is stored: the same model
file (same word times), the same audio when the draw is the same, the same voice
identity and content key, and a stored blob reused, never replaced.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from preread.blobs import blob_key
from preread.fsutil import sha256_file
from preread.model import Block, DocumentText
from preread.preprocess import run_preprocess
from preread.settings import VoiceSettings
from preread.store import Store
from preread.tts import piper as piper_module
from preread.tts.piper import PIPER_MODEL, PiperProvider, load_voice, spare_core
from preread.tts.piper_words import word_samples

SENTENCE = "The keeper climbed the stairs to light the lamp."
two_cores = pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: no second thread")


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One models folder for the module: the aligned model is patched once."""
    return tmp_path_factory.mktemp("models")


def threads(voice: Any) -> int:
    return int(voice.session.get_session_options().intra_op_num_threads)


@pytest.mark.slow
@two_cores
def test_a_synthesis_alone_runs_on_two_threads_and_one_beside_another_on_one(
    models: Path,
) -> None:
    load_voice(models, 2)  # loaded (below: its loading in the background)
    provider = PiperProvider(workers=2, models_dir=models)
    provider.spare_core = lambda: True  # an idle core (the machine's own view: below)
    voice = provider.resolve(VoiceSettings())
    (alone,) = provider.synthesize([SENTENCE], voice)
    assert provider.syntheses == Counter({2: 1})
    with provider.session() as held:  # a synthesis under way: the next one gets one thread
        assert threads(held) == 2
        (beside,) = provider.synthesize([SENTENCE], voice)
        assert provider.syntheses == Counter({2: 2, 1: 1})
    assert threads(load_voice(models, 1)) == 1
    # both from the aligned model: word times either way
    assert alone.words and beside.words and len(alone.words) == len(beside.words) == 9
    provider.spare_core = lambda: False  # every core busy with other work: one thread
    list(provider.synthesize([SENTENCE], voice))
    assert provider.syntheses == Counter({2: 2, 1: 2})


@pytest.mark.slow
@two_cores
def test_the_two_thread_session_loads_in_the_background(models: Path, tmp_path: Path) -> None:
    load_voice(models, 1)  # the patched model made in the module's folder
    fresh = tmp_path / "models"
    fresh.mkdir()
    shutil.copy(models / f"{PIPER_MODEL}.aligned.onnx", fresh)  # a new folder: no sessions
    provider = PiperProvider(workers=2, models_dir=fresh)
    provider.spare_core = lambda: True
    voice = provider.resolve(VoiceSettings())
    (first,) = provider.synthesize([SENTENCE], voice)  # alone, nothing loaded: one thread
    assert provider.syntheses == Counter({1: 1}) and first.words
    loaders = [t for t in threading.enumerate() if t.name == "preread-piper-load"]
    assert loaders  # started by that synthesis
    for thread in loaders:
        thread.join(120)  # a wait for the loading thread, not a timing
    assert (fresh, 2) in piper_module._voices  # loaded by it, not by anyone asking
    assert threads(load_voice(fresh, 2)) == 2
    (second,) = provider.synthesize([SENTENCE], voice)
    assert provider.syntheses == Counter({1: 1, 2: 1}) and second.words


@pytest.mark.slow
def test_one_worker_never_uses_a_second_session(models: Path) -> None:
    provider = PiperProvider(workers=1, models_dir=models)
    provider.spare_core = lambda: True
    voice = provider.resolve(VoiceSettings())
    list(provider.synthesize([SENTENCE, "A ship saw the light."], voice))
    assert provider.syntheses == Counter({1: 2})


@pytest.mark.skipif(not Path("/proc/loadavg").is_file(), reason="not Linux")
def test_spare_core_reads_the_running_tasks() -> None:
    # the asking thread itself runs: never a spare core on one, always on a million
    assert spare_core(1) is False
    assert spare_core(1_000_000) is True


@pytest.mark.slow
@two_cores
def test_both_sessions_speak_the_same_audio_and_word_times(models: Path) -> None:
    from piper.config import SynthesisConfig

    one, two = load_voice(models, 1), load_voice(models, 2)
    assert (threads(one), threads(two)) == (1, 2)
    assert [o.name for o in one.session.get_outputs()] == [
        o.name for o in two.session.get_outputs()
    ]
    # Piper draws durations and noise at random; with the draw switched off the two
    # sessions must compute the same samples, bit for bit
    config = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0, normalize_audio=False)
    parts = [list(v.synthesize(SENTENCE, config, include_alignments=True)) for v in (one, two)]
    pcm = [np.concatenate([p.audio_int16_array for p in ps]).tobytes() for ps in parts]
    assert len(pcm[0]) > 22050 and pcm[0] == pcm[1]
    words = [word_samples(v, SENTENCE, ps) for v, ps in zip((one, two), parts, strict=True)]
    assert words[0] and words[0] == words[1]


def document(name: str, text: str) -> DocumentText:
    sentences = tuple(s if s.endswith(".") else s + "." for s in text.split(". "))
    block = Block(0, 1, 0, text, sentences)
    return DocumentText(name * 64, f"{name}.pdf", name, 1, blocks=(block,))


@pytest.mark.slow
@two_cores
def test_the_chunk_is_the_same_whichever_session_spoke_it(store: Store, models: Path) -> None:
    load_voice(models, 2)  # loaded: the first sentence alone takes it
    provider = PiperProvider(workers=2, models_dir=models)
    provider.spare_core = lambda: True
    settings = VoiceSettings()
    voice = provider.resolve(settings)
    first, second = "The lamp was lit. The ship saw it.", "The tower stood. The sea was calm."
    run_preprocess(store, provider, document("a", first), settings)
    assert provider.syntheses[2] >= 2 and provider.syntheses[1] == 0  # alone: two threads
    with provider.session():  # beside another synthesis: one thread
        run_preprocess(store, provider, document("b", second), settings)
    assert provider.syntheses[1] == 2
    spoken = Counter(provider.syntheses)
    run_preprocess(store, provider, document("c", first), settings)  # a's text again
    assert provider.syntheses == spoken  # reused: nothing synthesized
    manifests = {n: store.require_manifest(n * 64) for n in "abc"}
    for name, manifest in manifests.items():
        assert (manifest.tts_provider, manifest.tts_model, manifest.voice) == (
            "piper",
            "en_US-joe-medium",
            "joe",
        ), name
        (entry,) = manifest.chunks
        assert entry.status == "done" and entry.spoken_by is None
        assert all(s.words for s in entry.sentences), name  # word times on either session
        path = store.chunks_dir(manifest.document_id) / entry.file_name
        assert path.stat().st_size == entry.bytes
    # a's stored audio is what c got: the blob under a's content key, not replaced
    (a_entry,), (c_entry,) = manifests["a"].chunks, manifests["c"].chunks
    assert a_entry.sha256 == c_entry.sha256
    key = blob_key(first, voice)
    assert key != blob_key(second, voice)
    assert sha256_file(store.blobs_dir / key[:2] / f"{key}.mp3") == a_entry.sha256
