"""Workloads (client + generator) of the harness; WORKLOADS maps a scenario's `workload.type`
to its class (see harness.workload.base)."""

from harness.workload import lock, queue, register  # noqa: F401 - each module registers itself
from harness.workload.base import WORKLOADS, ClientContext, Workload, WorkloadParams

__all__ = ["WORKLOADS", "ClientContext", "Workload", "WorkloadParams"]
