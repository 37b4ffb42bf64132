"""Prometheus metrics on a per-app registry (so tests can build many apps)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class RelayMetrics:
    """The relay's counters and gauges; nothing here identifies a client."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.envelopes_stored = Counter(
            "relay_envelopes_stored", "Envelopes newly stored by this process", registry=self.registry
        )
        self.bytes_stored = Counter(
            "relay_envelope_bytes_stored",
            "Bytes of envelopes newly stored by this process",
            registry=self.registry,
        )
        self.requests = Counter(
            "relay_http_requests", "HTTP responses by status code", ["status"], registry=self.registry
        )
        self.stream_subscribers = Gauge(
            "relay_stream_subscribers", "Open /v1/stream connections", registry=self.registry
        )
        self.latest_seq = Gauge(
            "relay_latest_seq",
            "Highest envelope seq seen (a cheap proxy for the log length)",
            registry=self.registry,
        )

    def render(self) -> bytes:
        """The Prometheus text exposition of this registry."""
        return generate_latest(self.registry)
