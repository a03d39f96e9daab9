"""`GET /metrics`: Prometheus text format under Triton's metric names and labels (`model`,
`version`; `reason` on failures), so dashboards and alerts written for Triton read it unchanged.

Rendered by prometheus_client from the same counts the statistics extension reports
(inference_stats.py), in a registry of this app's own: tests start several apps in one process.
prometheus_client appends `_total` to every metric it is told is a counter, and Triton's
counters have no such suffix; they are exposed untyped under Triton's exact names (rate() and
increase() work on them the same).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from inference.adapters.inference_stats import REASONS, InferenceStats

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
COUNTERS = {
    "nv_inference_request_success": "Number of successful inference requests, all batch sizes",
    "nv_inference_count": "Number of inferences performed (does not include cached requests)",
    "nv_inference_exec_count": "Number of model executions performed (does not include cached requests)",
    "nv_inference_request_duration_us": "Cumulative inference request duration in microseconds (includes cached requests)",
    "nv_inference_queue_duration_us": "Cumulative inference queuing duration in microseconds (includes cached requests)",
    "nv_inference_compute_infer_duration_us": "Cumulative compute inference duration in microseconds (does not include cached requests)",
}


class StatsCollector(Collector):
    def __init__(self, stats: InferenceStats):
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        snapshot = self.stats.snapshot()
        model = self.stats.model
        families = {name: Metric(name, doc, "unknown") for name, doc in COUNTERS.items()}
        failure = Metric(
            "nv_inference_request_failure", "Number of failed inference requests, all batch sizes", "unknown"
        )
        pending = GaugeMetricFamily(
            "nv_inference_pending_request_count",
            "Instantaneous number of pending requests awaiting execution per-model.",
            labels=["model", "version"],
        )
        for version, s in snapshot.items():
            labels = {"model": model, "version": version}
            values = {
                "nv_inference_request_success": s.phases["success"].count,
                "nv_inference_count": s.inference_count,
                "nv_inference_exec_count": s.execution_count,
                "nv_inference_request_duration_us": s.request_ns // 1000,
                "nv_inference_queue_duration_us": s.phases["queue"].ns // 1000,
                "nv_inference_compute_infer_duration_us": s.phases["compute_infer"].ns // 1000,
            }
            for name, value in values.items():
                families[name].add_sample(name, labels, value)
            for reason in REASONS:
                failure.add_sample("nv_inference_request_failure", {**labels, "reason": reason}, s.failures[reason])
            pending.add_metric([model, version], s.pending)
        yield families["nv_inference_request_success"]
        yield failure
        yield from (families[name] for name in COUNTERS if name != "nv_inference_request_success")
        yield pending


class Metrics:
    def __init__(self, stats: InferenceStats):
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(StatsCollector(stats))

    def render(self) -> bytes:
        return generate_latest(self.registry)
