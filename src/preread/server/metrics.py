"""Prometheus text-format metrics, hand-written (no client library needed).

Counters and histograms live in memory, per process; ``render`` prints them with
gauges the caller measures at scrape time (store size, jobs by state).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping, Sequence

LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


class Histogram:
    def __init__(self, buckets: Sequence[float] = LATENCY_BUCKETS) -> None:
        self.buckets = tuple(buckets)
        self.counts = [0] * (len(self.buckets) + 1)
        self.total = 0.0
        self.n = 0

    def observe(self, value: float) -> None:
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[i] += 1
                break
        else:
            self.counts[-1] += 1
        self.total += value
        self.n += 1

    def lines(self, name: str, labels: str = "") -> list[str]:
        out, running = [], 0
        more = f"{labels}," if labels else ""
        for bound, count in zip(self.buckets, self.counts, strict=False):
            running += count
            out.append(f'{name}_bucket{{{more}le="{bound:g}"}} {running}')
        out.append(f'{name}_bucket{{{more}le="+Inf"}} {self.n}')
        tag = f"{{{labels}}}" if labels else ""
        out.append(f"{name}_sum{tag} {self.total:.6f}")
        out.append(f"{name}_count{tag} {self.n}")
        return out


def _label(value: str) -> str:
    """A label value escaped per the text format: backslash, double quote, line feed."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[tuple[str, str, int]] = Counter()
        self.cache: Counter[str] = Counter()
        self.bytes_served = 0
        self.live_first_audio = Histogram()
        self.live_total = Histogram()
        self.live_failures = 0
        self.speech: Counter[str] = Counter()  # hit, assembled, miss
        self.speech_chars = 0
        self.synthesis: dict[str, Histogram] = {}  # per provider: seconds per chunk
        self.fallbacks: Counter[str] = Counter()  # chunks a chain's fallback made, by it

    def synthesized(self, provider: str, seconds: float) -> None:
        """A chunk's synthesis by ``provider`` took ``seconds`` (``Engines.listeners``)."""
        with self._lock:
            self.synthesis.setdefault(provider, Histogram()).observe(seconds)

    def fell_back(self, provider: str) -> None:
        """A chunk was made by ``provider``, an engine chain's fallback."""
        with self._lock:
            self.fallbacks[provider] += 1

    def request(self, route: str, method: str, status: int, sent: int) -> None:
        with self._lock:
            self.requests[(route, method, status)] += 1
            self.bytes_served += sent

    def cache_result(self, result: str) -> None:
        with self._lock:
            self.cache[result] += 1

    def speech_result(self, result: str, synthesized_chars: int) -> None:
        with self._lock:
            self.speech[result] += 1
            self.speech_chars += synthesized_chars

    def live_done(self, first_audio: float | None, total: float, ok: bool) -> None:
        with self._lock:
            if first_audio is not None:
                self.live_first_audio.observe(first_audio)
            self.live_total.observe(total)
            if not ok:
                self.live_failures += 1

    def render(
        self,
        *,
        store_bytes: int | None,
        jobs: Mapping[str, int],
        live_in_flight: int,
        breakers: Mapping[str, str] | None = None,
    ) -> str:
        with self._lock:
            lines = [
                "# HELP preread_requests_total HTTP requests by route, method and status.",
                "# TYPE preread_requests_total counter",
            ]
            for (route, method, status), n in sorted(self.requests.items()):
                lines.append(
                    f'preread_requests_total{{route="{_label(route)}",method="{_label(method)}",'
                    f'status="{status}"}} {n}'
                )
            lines += [
                "# HELP preread_chunk_cache_total Chunk requests served from disk (hit) or live.",
                "# TYPE preread_chunk_cache_total counter",
                f'preread_chunk_cache_total{{result="hit"}} {self.cache["hit"]}',
                f'preread_chunk_cache_total{{result="miss"}} {self.cache["miss"]}',
                "# HELP preread_bytes_served_total Response body bytes sent.",
                "# TYPE preread_bytes_served_total counter",
                f"preread_bytes_served_total {self.bytes_served}",
                "# HELP preread_live_first_audio_seconds Live generation: time to first audio.",
                "# TYPE preread_live_first_audio_seconds histogram",
                *self.live_first_audio.lines("preread_live_first_audio_seconds"),
                "# HELP preread_live_generation_seconds Live generation: time to the whole chunk.",
                "# TYPE preread_live_generation_seconds histogram",
                *self.live_total.lines("preread_live_generation_seconds"),
                "# HELP preread_speech_requests_total /v1/audio/speech answers: stored verbatim"
                " (hit), built from stored speech (assembled), synthesized (miss).",
                "# TYPE preread_speech_requests_total counter",
                *(
                    f'preread_speech_requests_total{{result="{r}"}} {self.speech[r]}'
                    for r in ("hit", "assembled", "miss")
                ),
                "# HELP preread_speech_synthesized_chars_total Characters /v1/audio/speech"
                " had synthesized.",
                "# TYPE preread_speech_synthesized_chars_total counter",
                f"preread_speech_synthesized_chars_total {self.speech_chars}",
                "# HELP preread_live_failures_total Live generations that failed.",
                "# TYPE preread_live_failures_total counter",
                f"preread_live_failures_total {self.live_failures}",
                "# HELP preread_synthesis_seconds Time to synthesize a chunk, per provider.",
                "# TYPE preread_synthesis_seconds histogram",
            ]
            for provider, histogram in sorted(self.synthesis.items()):
                lines += histogram.lines(
                    "preread_synthesis_seconds", f'provider="{_label(provider)}"'
                )
            lines += [
                "# HELP preread_fallback_chunks_total Chunks an engine chain's fallback made.",
                "# TYPE preread_fallback_chunks_total counter",
                *(
                    f'preread_fallback_chunks_total{{provider="{_label(p)}"}} {n}'
                    for p, n in sorted(self.fallbacks.items())
                ),
            ]
        lines += [
            "# HELP preread_live_in_flight Live generations running or queued.",
            "# TYPE preread_live_in_flight gauge",
            f"preread_live_in_flight {live_in_flight}",
            "# HELP preread_jobs Preprocess jobs known to this server, by state.",
            "# TYPE preread_jobs gauge",
            *(f'preread_jobs{{state="{s}"}} {n}' for s, n in sorted(jobs.items())),
        ]
        lines += [
            "# HELP preread_breaker_state Each provider's circuit breaker: 1 for its state.",
            "# TYPE preread_breaker_state gauge",
        ]
        for provider, current in (breakers or {}).items():
            for state in ("closed", "open", "half-open"):
                lines.append(
                    f'preread_breaker_state{{provider="{_label(provider)}",state="{state}"}}'
                    f" {int(state == current)}"
                )
        if store_bytes is not None:
            lines += [
                "# HELP preread_store_bytes Bytes on disk in the store (shared audio once).",
                "# TYPE preread_store_bytes gauge",
                f"preread_store_bytes {store_bytes}",
            ]
        return "\n".join(lines) + "\n"
