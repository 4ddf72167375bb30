"""Shared helpers for tests/bench (imported by name; pytest puts this folder on sys.path)."""

from __future__ import annotations

import dataclasses

from simbench.settings import official_settings


def short_settings(scenario: str, **overrides):
    """Official resnet50 settings shortened for tests (200 ms, few queries)."""
    base = {
        "min_duration_ms": 200,
        "min_query_count": 20,
        "server_target_qps": 500.0,
        "offline_expected_qps": 100.0,
        "single_stream_expected_latency_ns": 100_000,
        "multi_stream_expected_latency_ns": 500_000,
        "performance_sample_count_override": 256,
    }
    base.update(overrides)
    return dataclasses.replace(official_settings("resnet50", scenario), **base)
