"""The example Prometheus configuration and alert rules (``deploy/prometheus/``) parse and
speak only of metrics the server exports, with labels it sets."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

from server.metrics import OVER_LAST_BAND, WAIT_BANDS, Metrics
from server.settings import load_settings

DEPLOY = Path(__file__).parents[1] / "deploy" / "prometheus"


def _exported() -> set[str]:
    """Every sample name the server's registry can export (counters add _total, ...)."""
    from prometheus_client.exposition import generate_latest

    metrics = Metrics(load_settings(environ={}))
    metrics.cases_waiting.labels("under_1h", "urgent").set(0)
    metrics.http_requests.labels("GET", "/x", "200").inc()
    metrics.http_seconds.labels("/x").observe(0.1)
    metrics.socket_events.labels("send", "ok").inc()
    metrics.storage_seconds.labels("get_case").observe(0.1)
    metrics.queue_length.labels("storage_writes").set(0)
    text = generate_latest(metrics.registry).decode()
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


def test_scrape_config_parses_and_scrapes_metrics() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    assert jobs["dermline"]["metrics_path"] == "/metrics"
    assert all(":" in t for t in jobs["dermline"]["static_configs"][0]["targets"])
    assert all(
        t.endswith("/readyz") for t in jobs["dermline-ready"]["static_configs"][0]["targets"]
    )


def test_alert_rules_use_exported_metrics_and_labels() -> None:
    rules = yaml.safe_load((DEPLOY / "alerts.yml").read_text())
    alerts = {r["alert"]: r for g in rules["groups"] for r in g["rules"]}
    assert {
        "DermlineCasesWaitingPastSameDayTarget",
        "DermlineRedisDown",
        "DermlineStorageSlow",
    } <= set(alerts)
    exported = _exported() | {"up", "probe_success"}  # Prometheus's and the blackbox's own
    for name, rule in alerts.items():
        used = set(re.findall(r"\b(?:dermline_[a-z_]+|up|probe_success)\b", rule["expr"]))
        assert used and used <= exported, (name, used - exported)
        assert rule["annotations"]["summary"] and rule["annotations"]["runbook"]
        assert rule["labels"]["severity"] in ("page", "ticket")
    bands = {label for label, _edge in WAIT_BANDS} | {OVER_LAST_BAND}
    waiting = alerts["DermlineCasesWaitingPastSameDayTarget"]["expr"]
    named = set(re.search(r'age_band=~"([^"]+)"', waiting).group(1).split("|"))  # type: ignore[union-attr]
    assert named <= bands and named == {"8h_to_24h", OVER_LAST_BAND}
