"""An MP3 stream whose Xing/LAME header is made before its audio decodes to exactly the
samples fed, at every MPEG rate (mpg123 through soundfile, and mutagen's length)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
from mutagen.mp3 import MP3

from preread.mp3frames import audio_frames, lame_layout
from preread.stream_encoder import stream_encoder


@pytest.mark.parametrize("rate", [16000, 22050, 24000, 44100, 48000])
@pytest.mark.parametrize("samples", [1, 575, 576, 577, 1152, 1153, 33_333])
def test_a_streamed_mp3_has_exactly_the_samples_fed(rate: int, samples: int) -> None:
    pcm = (np.sin(np.arange(samples) * 0.05) * 8000).astype("<i2")
    encoder = stream_encoder("mp3", rate, samples)
    parts = [encoder.feed(pcm[at : at + 1000]) for at in range(0, samples, 1000)]
    data = b"".join(parts) + encoder.finish()
    _, frame_samples, frame_rate = audio_frames(data)
    assert frame_rate == rate
    assert frame_samples // (1152 if rate >= 32000 else 576) == lame_layout(samples, rate)[0]
    decoded, decoded_rate = sf.read(io.BytesIO(data), dtype="int16")
    assert decoded_rate == rate and len(decoded) == samples
    assert abs(MP3(io.BytesIO(data)).info.length - samples / rate) < 1e-6


def test_an_encoder_fed_other_than_it_was_promised_refuses() -> None:
    encoder = stream_encoder("mp3", 22050, 1000)
    encoder.feed(np.zeros(600, dtype="<i2"))
    with pytest.raises(ValueError, match="600"):
        encoder.finish()
    with pytest.raises(ValueError):
        encoder.feed(np.zeros(600, dtype="<i2"))


def test_a_streamed_opus_answer_is_whole_ogg() -> None:
    pcm = (np.sin(np.arange(48_000) * 0.05) * 8000).astype("<i2")
    encoder = stream_encoder("opus", 24000, len(pcm))
    data = b"".join(encoder.feed(pcm[at : at + 5000]) for at in range(0, len(pcm), 5000))
    data += encoder.finish()
    decoded, rate = sf.read(io.BytesIO(data), dtype="int16")
    assert rate == 24000 and len(decoded) == len(pcm)
