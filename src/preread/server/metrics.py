"""The server's Prometheus metrics, kept by ``prometheus_client``.

One process (``preread serve``): each ``Metrics`` has its own registry. Several
(``preread serve --workers N``): the serve command points ``PROMETHEUS_MULTIPROC_DIR``
at a folder it owns before the workers start; every worker's counters and
histograms then live in files there, and a scrape of any worker adds up all of
them (``MultiProcessCollector``), so each request is counted once whichever
process answered it. Gauges measured at scrape time (store size, jobs by state)
and each provider's breaker state are added by the process that answers the scrape.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

disable_created_metrics()  # type: ignore[no-untyped-call]  # no *_created series: the names the README lists, nothing more


def multiprocess_dir() -> str | None:
    """The folder of the workers' metric files when several processes serve, else None."""
    return os.environ.get(MULTIPROC_ENV) or None


class _ScrapeGauges(Collector):
    """Gauges the answering process measures when it is scraped."""

    def __init__(
        self, store_bytes: int | None, jobs: Mapping[str, int], breakers: Mapping[str, str]
    ) -> None:
        self.store_bytes = store_bytes
        self.jobs = jobs
        self.breakers = breakers

    def collect(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily(
            "preread_jobs", "Preprocess jobs known to this server, by state.", labels=["state"]
        )
        for state, n in sorted(self.jobs.items()):
            jobs.add_metric([state], n)
        yield jobs
        breakers = GaugeMetricFamily(
            "preread_breaker_state",
            "Each provider's circuit breaker: 1 for its state.",
            labels=["provider", "state"],
        )
        for provider, current in self.breakers.items():
            for state in ("closed", "open", "half-open"):
                breakers.add_metric([provider, state], int(state == current))
        yield breakers
        if self.store_bytes is not None:
            yield GaugeMetricFamily(
                "preread_store_bytes",
                "Bytes on disk in the store (shared audio once).",
                value=self.store_bytes,
            )


class Metrics:
    """The counters behind ``/metrics``; ``multiprocess`` defaults to whether
    ``PROMETHEUS_MULTIPROC_DIR`` is set (``preread serve --workers N``)."""

    def __init__(self, multiprocess: bool | None = None) -> None:
        self.multiprocess = multiprocess_dir() is not None if multiprocess is None else multiprocess
        self.registry = CollectorRegistry()
        # in multiprocess mode the values live in files, read back by MultiProcessCollector
        registry = None if self.multiprocess else self.registry
        self.requests = Counter(
            "preread_requests",
            "HTTP requests by route, method and status.",
            ["route", "method", "status"],
            registry=registry,
        )
        self.cache = Counter(
            "preread_chunk_cache",
            "Chunk requests served from disk (hit) or live.",
            ["result"],
            registry=registry,
        )
        self.bytes_served = Counter(
            "preread_bytes_served", "Response body bytes sent.", registry=registry
        )
        self.live_first_audio = Histogram(
            "preread_live_first_audio_seconds",
            "Live generation: time to first audio.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.live_total = Histogram(
            "preread_live_generation_seconds",
            "Live generation: time to the whole chunk.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.speech = Counter(
            "preread_speech_requests",
            "/v1/audio/speech answers: stored verbatim (hit), built from stored speech"
            " (assembled), synthesized (miss).",
            ["result"],
            registry=registry,
        )
        self.speech_chars = Counter(
            "preread_speech_synthesized_chars",
            "Characters /v1/audio/speech had synthesized.",
            registry=registry,
        )
        self.live_failures = Counter(
            "preread_live_failures", "Live generations that failed.", registry=registry
        )
        self.synthesis = Histogram(
            "preread_synthesis_seconds",
            "Time to synthesize a chunk, per provider.",
            ["provider"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.fallbacks = Counter(
            "preread_fallback_chunks",
            "Chunks an engine chain's fallback made.",
            ["provider"],
            registry=registry,
        )
        self.live_in_flight = Gauge(
            "preread_live_in_flight",
            "Live generations running or queued.",
            registry=registry,
            multiprocess_mode="livesum",  # the sum over the workers alive
        )
        # every request counts here: its labelled children are looked up once, not per call
        self._request_children: dict[tuple[str, str, int], Any] = {}
        self._cache_children = {r: self.cache.labels(r) for r in ("hit", "miss")}  # listed at 0
        for result in ("hit", "assembled", "miss"):
            self.speech.labels(result)

    def request(self, route: str, method: str, status: int, sent: int) -> None:
        key = (route, method, status)
        child = self._request_children.get(key)
        if child is None:
            child = self.requests.labels(route, method, str(status))
            if len(self._request_children) < 1000:  # methods come from clients: bounded
                self._request_children[key] = child
        child.inc()
        if sent:
            self.bytes_served.inc(sent)

    def cache_result(self, result: str) -> None:
        child = self._cache_children.get(result)
        (child if child is not None else self.cache.labels(result)).inc()

    def speech_result(self, result: str, synthesized_chars: int) -> None:
        self.speech.labels(result).inc()
        if synthesized_chars:
            self.speech_chars.inc(synthesized_chars)

    def live_done(self, first_audio: float | None, total: float, ok: bool) -> None:
        if first_audio is not None:
            self.live_first_audio.observe(first_audio)
        self.live_total.observe(total)
        if not ok:
            self.live_failures.inc()

    def synthesized(self, provider: str, seconds: float) -> None:
        """A chunk's synthesis by ``provider`` took ``seconds`` (``Engines.listeners``)."""
        self.synthesis.labels(provider).observe(seconds)

    def fell_back(self, provider: str) -> None:
        """A chunk was made by ``provider``, an engine chain's fallback."""
        self.fallbacks.labels(provider).inc()

    def live_running(self, count: int) -> None:
        """Live generations running or queued in this process now."""
        self.live_in_flight.set(count)

    def render(
        self,
        *,
        store_bytes: int | None,
        jobs: Mapping[str, int],
        breakers: Mapping[str, str] | None = None,
    ) -> str:
        """The text format: every worker's counters (summed), then this scrape's gauges
        (``breakers``: each provider's breaker state, as this process sees it)."""
        if self.multiprocess:
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        else:
            registry = self.registry
        scraped = CollectorRegistry()
        scraped.register(_ScrapeGauges(store_bytes, jobs, breakers or {}))
        return (generate_latest(registry) + generate_latest(scraped)).decode("utf-8")

    def close(self) -> None:
        """This process stops serving: its live gauge no longer counts."""
        if self.multiprocess and multiprocess_dir() is not None:
            mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
