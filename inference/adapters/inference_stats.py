"""What the service has done per model version: one owner for Triton's statistics extension
(`GET /v2/models/stats`) and for the Prometheus metrics rendered from the same counts.

Durations are kept in nanoseconds, as Triton's statistics report them; the metrics give them
in microseconds under Triton's names. Updated from the event loop and from worker threads,
hence the lock (held for a few additions at a time).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

PHASES = ("success", "fail", "queue", "compute_input", "compute_infer", "compute_output", "cache_hit", "cache_miss")
REASONS = ("REJECTED", "CANCELED", "BACKEND", "OTHER")  # Triton's failure reasons


@dataclass
class Duration:
    count: int = 0
    ns: int = 0

    def add(self, ns: int) -> None:
        self.count += 1
        self.ns += ns

    def as_json(self) -> dict:
        return {"count": self.count, "ns": self.ns}


@dataclass
class VersionStats:
    inference_count: int = 0  # images scored
    execution_count: int = 0  # model runs
    last_inference_ms: int = 0
    pending: int = 0  # admitted, not yet scoring
    phases: dict[str, Duration] = field(default_factory=lambda: {p: Duration() for p in PHASES})
    failures: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))
    request_ns: int = 0  # every request's whole duration, success or not
    batches: dict[int, dict[str, Duration]] = field(default_factory=dict)


@dataclass
class Timing:
    """One request's phases in nanoseconds (perf_counter_ns stamps)."""

    start: int
    queue: int = 0
    compute_input: int = 0
    compute_infer: int = 0
    compute_output: int = 0


class InferenceStats:
    def __init__(self, model: str):
        self.model = model
        self._lock = threading.Lock()
        self._versions: dict[str, VersionStats] = defaultdict(VersionStats)

    def track(self, versions: Iterable[str]) -> None:
        """Report these versions even before they serve anything (Triton lists every loaded version)."""
        with self._lock:
            for v in versions:
                self._versions[v]

    def pending(self, version: str, change: int) -> None:
        with self._lock:
            self._versions[version].pending += change

    def succeeded(self, version: str, images: int, t: Timing) -> None:
        now = time.perf_counter_ns()
        with self._lock:
            s = self._versions[version]
            s.inference_count += images
            s.execution_count += 1
            s.last_inference_ms = time.time_ns() // 1_000_000
            s.phases["success"].add(now - t.start)
            s.request_ns += now - t.start
            for phase in ("queue", "compute_input", "compute_infer", "compute_output"):
                s.phases[phase].add(getattr(t, phase))
            batch = s.batches.get(images)
            if batch is None:
                batch = s.batches[images] = {
                    p: Duration() for p in ("compute_input", "compute_infer", "compute_output")
                }
            for phase, d in batch.items():
                d.add(getattr(t, phase))

    def failed(self, version: str, reason: str, start: int) -> None:
        elapsed = time.perf_counter_ns() - start
        with self._lock:
            s = self._versions[version]
            s.failures[reason] += 1
            s.phases["fail"].add(elapsed)
            s.request_ns += elapsed

    def snapshot(self) -> dict[str, VersionStats]:
        """A copy to read without the lock (metrics and the statistics endpoint)."""
        with self._lock:
            return {v: _copy(s) for v, s in sorted(self._versions.items(), key=lambda kv: int(kv[0]))}

    def as_json(self, version: str | None = None) -> dict:
        """Triton's statistics extension document for every version, or one."""
        rows = []
        for v, s in self.snapshot().items():
            if version is not None and v != version:
                continue
            rows.append(
                {
                    "name": self.model,
                    "version": v,
                    "last_inference": s.last_inference_ms,
                    "inference_count": s.inference_count,
                    "execution_count": s.execution_count,
                    "inference_stats": {p: d.as_json() for p, d in s.phases.items()},
                    "response_stats": {},
                    "batch_stats": [
                        {"batch_size": size, **{p: d.as_json() for p, d in phases.items()}}
                        for size, phases in sorted(s.batches.items())
                    ],
                    "memory_usage": [],
                }
            )
        return {"model_stats": rows}


def _copy(s: VersionStats) -> VersionStats:
    return VersionStats(
        s.inference_count,
        s.execution_count,
        s.last_inference_ms,
        s.pending,
        {p: Duration(d.count, d.ns) for p, d in s.phases.items()},
        dict(s.failures),
        s.request_ns,
        {b: {p: Duration(d.count, d.ns) for p, d in ph.items()} for b, ph in s.batches.items()},
    )
