"""The kit's Prometheus metrics, pure: names, help and bounded labels; the home
buckets; the Grafana board and the scrape config in example_config/ name only
metrics that exist. No services (the real hub's /hub/metrics: test_metrics_hub.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jupyterhub.metrics  # noqa: F401 - JupyterHub's own, which the board graphs too
import yaml
from prometheus_client import REGISTRY

from jhub_kit import metrics

EXAMPLE = Path(__file__).resolve().parents[2] / "example_config"


def sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def kit_families():
    return [m for m in REGISTRY.collect() if m.name.startswith("jhub_kit")]


def test_every_kit_metric_is_named_and_explained():
    families = {m.name: m for m in kit_families()}
    assert set(families) >= {
        "jhub_kit_start_queue_length",
        "jhub_kit_start_queue_wait_seconds",
        "jhub_kit_pool_ready",
        "jhub_kit_pool_given",
        "jhub_kit_pool_cold_starts",
        "jhub_kit_oom_kills",
        "jhub_kit_start_refusals",
        "jhub_kit_homes",
    }
    for m in families.values():
        assert len(m.documentation) > 20, m.name
        for s in m.samples:  # no label that names a user
            assert not {"user", "username", "name"} & set(s.labels), s


def test_labels_only_take_their_listed_values():
    before = sample("jhub_kit_start_refusals_total", reason="budget") or 0
    metrics.count_refusal("budget")
    metrics.count_refusal("a user's own words")  # never a new series
    assert sample("jhub_kit_start_refusals_total", reason="budget") == before + 1
    assert sample("jhub_kit_start_refusals_total", reason="a user's own words") is None
    before = sample("jhub_kit_pool_cold_starts_total", reason="differs") or 0
    metrics.count_cold("something new")
    assert sample("jhub_kit_pool_cold_starts_total", reason="differs") == before + 1
    before = sample("jhub_kit_oom_kills_total", group="b-class") or 0
    metrics.count_oom(2, ["z-class", "b-class", "a-section-17"], named=["b-class", "z-class"])
    assert sample("jhub_kit_oom_kills_total", group="b-class") == before + 2
    metrics.count_oom(1, ["a-section-17"], named=["b-class"])  # not named: no new series
    assert sample("jhub_kit_oom_kills_total", group="a-section-17") is None
    assert sample("jhub_kit_oom_kills_total", group="other") >= 1
    metrics.count_oom(1, [])
    assert sample("jhub_kit_oom_kills_total", group="none") >= 1


def test_home_buckets_count_homes_not_students():
    assert [metrics.home_bucket(u, 100) for u in (0, 49, 50, 79, 80, 94, 95, 120)] == [
        "<50%", "<50%", "50-80%", "50-80%", "80-95%", "80-95%", ">=95%", ">=95%",
    ]  # fmt: skip
    homes = metrics.HomeUse()  # starts every bucket at 0
    homes.record("ann", 10, 100)
    homes.record("bob", 97, 100)
    homes.record("cy", 60, 100)
    homes.record("ann", 99, 100)  # ann's home filled up: moves bucket
    homes.record("dee", 5, None)  # no limit: not counted
    counts = {b: sample("jhub_kit_homes", use=b) for b in metrics.HOME_BUCKETS}
    assert counts == {"<50%": 0, "50-80%": 1, "80-95%": 0, ">=95%": 2}


def test_gauges_read_their_source_at_each_scrape():
    queue = [1, 2, 3]
    metrics.watch_queue(lambda: len(queue))
    assert sample("jhub_kit_start_queue_length") == 3
    queue.pop()
    assert sample("jhub_kit_start_queue_length") == 2


def test_grafana_board_and_scrape_config_name_real_metrics():
    board = json.loads((EXAMPLE / "grafana-dashboard.json").read_text())
    known = {m.name for m in REGISTRY.collect()}
    used = set()
    for panel in board["panels"]:
        assert panel["title"] and panel["targets"], panel
        for target in panel["targets"]:
            for name in re.findall(r"\b((?:jhub_kit|jupyterhub)_[a-z_]+)", target["expr"]):
                used.add(re.sub(r"_(bucket|total|count|sum)$", "", name))
    assert used and used <= known, used - known
    assert {m.name for m in kit_families()} <= used  # every kit metric is on the board
    scrape = yaml.safe_load((EXAMPLE / "prometheus.yml").read_text())
    job = scrape["scrape_configs"][0]
    assert job["metrics_path"] == "/hub/metrics" and job["authorization"]["type"] == "Bearer"
