"""Quotas: the :class:`Quota` value and its resolution per user (:mod:`.policy`,
pure), the spawner traits that configure it (:mod:`.traits`), the live policy
file (:mod:`.policy_file`), and its translation to Docker host-config keywords
(:mod:`.docker_limits`) and Swarm service resources (:mod:`.swarm_limits`).

``import jhub_kit.quota`` needs neither JupyterHub nor Docker.
"""

from __future__ import annotations

from .policy import (
    PLACEMENT,
    RESOURCES,
    Partial,
    Quota,
    QuotaError,
    QuotaPolicy,
    approx_size,
    build_quota,
    format_duration,
    format_size,
    merge_generous,
    parse_count,
    parse_cpu,
    parse_duration,
    parse_labels,
    parse_partial,
    parse_size,
)

__all__ = [
    "PLACEMENT",
    "RESOURCES",
    "Partial",
    "Quota",
    "QuotaError",
    "QuotaPolicy",
    "approx_size",
    "build_quota",
    "format_duration",
    "format_size",
    "merge_generous",
    "parse_count",
    "parse_cpu",
    "parse_duration",
    "parse_labels",
    "parse_partial",
    "parse_size",
]
