"""Read /metrics as Prometheus does: the text format parsed by prometheus_client's
own parser, so a test checks what a scraper sees, not the registry's internals."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families


def scrape(client: Any, settings: Any) -> dict[str, list[Any]]:
    """sample name -> its samples (name, labels, value), from one GET /metrics."""
    settings.METRICS_TOKEN = "scrape-token"
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token")
    assert response.status_code == 200, response.content
    samples: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


def value(samples: dict[str, list[Any]], name: str, **labels: str) -> float:
    """The one sample of ``name`` with exactly these labels (le included)."""
    found = [s.value for s in samples.get(name, []) if s.labels == labels]
    assert len(found) == 1, (name, labels, samples.get(name))
    return found[0]


def buckets(
    samples: dict[str, list[Any]], name: str, **labels: str
) -> dict[str, float]:
    """le -> cumulative count of one histogram's series."""
    return {
        s.labels["le"]: s.value
        for s in samples.get(f"{name}_bucket", [])
        if {k: v for k, v in s.labels.items() if k != "le"} == labels
    }
