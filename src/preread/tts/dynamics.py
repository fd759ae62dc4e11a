"""The signal stages of the levelling (``preread.tts.loudness``), plain numpy.

Each works on one sentence's samples (float, full scale 1.0), returns as many as it
got, and has fixed parameters: the same input always gives the same output, wherever
it is in a document, so a sentence levelled alone (a gap ``/v1/audio/speech`` fills)
sounds as it does inside its chunk.

* ``rotate``: a phase rotator (four second-order all-pass sections at 300 Hz, as
  broadcast processors use). Speech from a vocoder is lopsided: its peaks stand
  ≈ 21 dB over its loudness. Rotating the phase of its low harmonics makes the
  waveform more symmetric: ≈ 3.5 dB lower peaks at the same loudness (the magnitude
  response is flat), so the limiter has half as much to do. Low frequencies are
  delayed a few milliseconds (≈ 6 ms at 300 Hz, nothing above 2 kHz); the sample
  count does not change.
* ``steady``: a slow, bounded leveller on short-term loudness: per 100 ms block, the
  K-weighted loudness of the speech (blocks quieter than ``gate`` under the target
  left out) over a centred 3 s window; the gain moves ``1 - 1/ratio`` of the way to
  the target, never more than ``bound`` dB either way, interpolated between blocks.
  It evens out what one voice does from sentence to sentence (a question, a
  mumbled list) without flattening it: a sentence 6 dB quieter than the voice stays
  at least 3 dB quieter.
* ``limit``: the look-ahead peak limiter (4× oversampled peaks, gain held 10 ms
  around them and ramped).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

OVERSAMPLE = 4
TAPS = 24  # per phase of the oversampling filter
HOLD_SECONDS = 0.010
ROTATOR_HZ = 300.0
ROTATOR_Q = 0.7
ROTATOR_SECTIONS = 4
ROTATOR_SECONDS = 0.05  # the impulse response computed; kept while its tail holds
ROTATOR_TAIL = 1e-10  # more energy than this (-100 dB): ≈ 16 ms at 300 Hz
BLOCK_SECONDS = 0.1
WINDOW_SECONDS = 3.0  # EBU R 128's short-term loudness window

__all__ = [
    "limit",
    "per_sample",
    "rotate",
    "running_mean",
    "running_min",
    "short_term",
    "steady",
    "true_peaks",
]


def _interpolator() -> np.ndarray:
    """A windowed-sinc FIR for 4× oversampling: ``TAPS`` taps per phase."""
    taps = TAPS * OVERSAMPLE + 1  # odd: the fine grid holds the original samples
    n = np.arange(taps) - (taps - 1) / 2
    fir: np.ndarray = np.sinc(n / OVERSAMPLE) * np.kaiser(taps, 7.0)
    fir *= OVERSAMPLE / fir.sum()
    return fir


_FIR = _interpolator()


def true_peaks(x: np.ndarray) -> np.ndarray:
    """Per sample, the largest magnitude of the signal from it to the next, 4×
    oversampled as BS.1770's true-peak meter is (``x``: float, full scale 1.0)."""
    if len(x) < 2:
        return np.asarray(np.abs(x))
    peaks = np.abs(x)
    delay = (len(_FIR) - 1) // 2
    for phase in range(OVERSAMPLE):  # polyphase: each phase is a short convolution
        # fine sample 4i + phase of the upsampled signal is conv(x, taps)[i], at
        # original time i + (phase - delay) / 4: between samples i - shift and the next
        y = np.abs(np.convolve(x, _FIR[phase::OVERSAMPLE]))
        shift = (delay - phase + OVERSAMPLE - 1) // OVERSAMPLE
        np.maximum(peaks, y[shift : shift + len(x)], out=peaks)
    result: np.ndarray = np.maximum(peaks, np.concatenate([peaks[1:], peaks[-1:]]))
    return result


def running_min(x: np.ndarray, radius: int) -> np.ndarray:
    """The minimum of ``x`` over ``[i - radius, i + radius]`` at each i (van Herk)."""
    width = 2 * radius + 1
    padded = np.pad(x, (radius, radius + (-(len(x) + 2 * radius)) % width), mode="edge")
    blocks = padded.reshape(-1, width)
    prefix = np.minimum.accumulate(blocks, axis=1).ravel()
    suffix = np.minimum.accumulate(blocks[:, ::-1], axis=1)[:, ::-1].ravel()
    out: np.ndarray = np.minimum(suffix[: len(x)], prefix[width - 1 : width - 1 + len(x)])
    return out


def running_mean(x: np.ndarray, radius: int) -> np.ndarray:
    """The mean of ``x`` over ``[i - radius, i + radius]`` (edges repeated)."""
    padded = np.pad(x, (radius + 1, radius), mode="edge")
    sums = np.cumsum(padded)
    out: np.ndarray = (sums[2 * radius + 1 :] - sums[: len(x)]) / (2 * radius + 1)
    return out


def limit(x: np.ndarray, rate: int, ceiling: float, peaks: np.ndarray | None = None) -> np.ndarray:
    """The gain (per sample, ≤ 1) that keeps ``x``'s true peaks under ``ceiling``
    (linear): the lowest gain any sample within 10 ms wants, averaged over ±5 ms, so
    never above what a peak needs, and ramped instead of stepped. ``peaks``:
    ``true_peaks(x)`` when the caller has them."""
    if peaks is None:
        if np.abs(x).max(initial=0.0) * 1.5 <= ceiling:  # no sample, nor a peak between
            return np.ones(len(x))
        peaks = true_peaks(x)
    if peaks.max(initial=0.0) <= ceiling:
        return np.ones(len(x))
    wanted = np.minimum(1.0, ceiling / np.maximum(peaks, 1e-12))
    hold = max(1, round(HOLD_SECONDS * rate))
    smooth = running_mean(running_min(wanted, hold), hold // 2)
    gain: np.ndarray = np.minimum(smooth, wanted)
    return gain


@lru_cache(maxsize=8)
def _rotator(rate: int) -> np.ndarray:
    """The rotator's impulse response at ``rate`` (the all-pass cascade run on an
    impulse), up to where the rest of it holds less than ``ROTATOR_TAIL`` energy."""
    w0 = 2 * math.pi * ROTATOR_HZ / rate
    alpha = math.sin(w0) / (2 * ROTATOR_Q)
    c = math.cos(w0)
    b0, b1, b2 = (1 - alpha) / (1 + alpha), -2 * c / (1 + alpha), 1.0
    a1, a2 = b1, b0  # an all-pass: the denominator mirrors the numerator
    h = [0.0] * max(1, round(ROTATOR_SECONDS * rate))
    h[0] = 1.0
    for _ in range(ROTATOR_SECTIONS):
        out, x1, x2, y1, y2 = [], 0.0, 0.0, 0.0, 0.0
        for x0 in h:
            y0 = b0 * x0 + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2
            out.append(y0)
            x1, x2, y1, y2 = x0, x1, y0, y1
        h = out
    response = np.asarray(h)
    tail = np.cumsum((response**2)[::-1])[::-1]
    kept: np.ndarray = response[: max(1, int(np.argmax(tail < ROTATOR_TAIL)))]
    return kept


def rotate(x: np.ndarray, rate: int) -> np.ndarray:
    """``x`` through the phase rotator (same length: its last ≈ 16 ms of ringing,
    after a sentence's closing silence, are not kept)."""
    y: np.ndarray = np.convolve(x, _rotator(rate))[: len(x)]
    return y


@lru_cache(maxsize=8)
def _k_weights(rate: int, size: int) -> np.ndarray:
    """|H(f)|² of BS.1770's K-weighting (its shelf and high-pass, as pyloudnorm designs
    them) at the bins of an rfft of ``size`` samples."""
    z = np.exp(-1j * np.pi * np.arange(size // 2 + 1) / (size / 2))  # z^-1 per bin
    gain_db, q, fc = 3.99984385397, 0.7071752369554193, 1681.9744509555319
    a = 10 ** (gain_db / 40)
    w0 = 2 * math.pi * fc / rate
    alpha, c, s = math.sin(w0) / (2 * q), math.cos(w0), math.sqrt(a)
    shelf = (
        a * ((a + 1) + (a - 1) * c + 2 * s * alpha)
        - 2 * a * ((a - 1) + (a + 1) * c) * z
        + a * ((a + 1) + (a - 1) * c - 2 * s * alpha) * z * z
    ) / (
        (a + 1)
        - (a - 1) * c
        + 2 * s * alpha
        + 2 * ((a - 1) - (a + 1) * c) * z
        + ((a + 1) - (a - 1) * c - 2 * s * alpha) * z * z
    )
    w0 = 2 * math.pi * 38.13547087613982 / rate
    alpha, c = math.sin(w0) / (2 * 0.5003270373253953), math.cos(w0)
    high = ((1 + c) / 2) * (1 - 2 * z + z * z) / ((1 + alpha) - 2 * c * z + (1 - alpha) * z * z)
    weights: np.ndarray = np.abs(shelf * high) ** 2
    return weights


def short_term(x: np.ndarray, rate: int, floor: float) -> np.ndarray:
    """Per 100 ms block of ``x``, the K-weighted loudness (LUFS) of the blocks louder
    than ``floor`` within a centred 3 s window; NaN where there are none."""
    block = max(1, round(BLOCK_SECONDS * rate))
    count = -(-len(x) // block)
    if count == 0:
        return np.zeros(0)
    frames = np.pad(x, (0, count * block - len(x))).reshape(count, block)
    spectra = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    spectra[:, 1 : (block + 1) // 2] *= 2  # the negative frequencies' share (Parseval)
    lengths = np.full(count, float(block))
    lengths[-1] = len(x) - (count - 1) * block
    power = (spectra * _k_weights(rate, block)).sum(axis=1) / (block * lengths)
    active = power > 10 ** ((floor + 0.691) / 10)
    radius = round(WINDOW_SECONDS / BLOCK_SECONDS / 2)
    width = 2 * radius + 1
    sums = np.cumsum(np.concatenate([[0.0], np.pad(power * active, radius)]))
    counts = np.cumsum(np.concatenate([[0.0], np.pad(active.astype(float), radius)]))
    total, n = sums[width:] - sums[:-width], counts[width:] - counts[:-width]
    with np.errstate(divide="ignore", invalid="ignore"):
        loudness: np.ndarray = np.where(n > 0, -0.691 + 10 * np.log10(total / n), np.nan)
    return loudness


def per_sample(change_db: np.ndarray, length: int, rate: int) -> np.ndarray:
    """A gain per 100 ms block (dB) as a linear gain per sample, interpolated between
    the blocks' centres."""
    block = max(1, round(BLOCK_SECONDS * rate))
    centres = (np.arange(len(change_db)) + 0.5) * block
    gain: np.ndarray = 10 ** (np.interp(np.arange(length), centres, change_db) / 20)
    return gain


def steady(
    x: np.ndarray,
    rate: int,
    peaks: np.ndarray,
    *,
    ceiling: float,
    target: float,
    ratio: float,
    bound: float,
    gate: float,
    passes: int = 3,
) -> np.ndarray:
    """``x`` (true peaks ``peaks``) levelled slowly, then limited under ``ceiling``.

    What a listener hears is the limited signal, and the limiter takes more off a
    sentence with sharper peaks, so the leveller measures the limited signal: its
    short-term loudness is moved ``1 - 1/ratio`` of the way to ``target`` by a gain
    of at most ``bound`` dB either way, found in ``passes`` measurements (the limiter
    answers a boost with more limiting). Blocks quieter than ``target + gate`` do not
    count; where none count, the gain is 0 dB."""
    block = max(1, round(BLOCK_SECONDS * rate))
    change = np.zeros(-(-len(x) // block))
    floor = target + gate
    goal: np.ndarray | None = None
    y = x
    for number in range(passes + 1):
        gain = per_sample(change, len(x), rate)
        y = x * gain
        y *= limit(y, rate, ceiling, peaks * gain)  # the gain moves slowly: peaks with it
        if number == passes:
            break
        heard = short_term(y, rate, floor)
        if goal is None:
            goal = target + (heard - target) / ratio
        change = np.clip(change + np.nan_to_num(goal - heard), -bound, bound)
    return y
