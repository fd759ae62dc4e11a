"""Reading ``/metrics`` in tests: values by name and labels, whatever their order."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def value(text: str, name: str, **labels: str) -> float:
    """The sample ``name`` whose labels include ``labels`` (summed when several match);
    0.0 when none does."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def by_label(text: str, name: str, label: str, **labels: str) -> dict[str, float]:
    """``name``'s samples matching ``labels``, keyed by the value of ``label``."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                key = sample.labels.get(label, "")
                out[key] = out.get(key, 0.0) + sample.value
    return out
