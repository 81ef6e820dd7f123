"""File descriptors a run needs, and raising the soft RLIMIT_NOFILE to match before anything starts.

A local run has `clients x nodes` proxies in one toxiproxy-server: each is a listening
socket, and each client connection through it holds two descriptors there (the
client's side and the upstream to redis-server). The runner process holds the
client side of every connection. toxiproxy-server and redis-server are children of
the runner and inherit its limit, so raising the runner's soft limit (up to the hard
limit, which needs no privilege) covers them. Too few descriptors do not fail
loudly: toxiproxy logs "too many open files" and the clients see timeouts.
"""

from __future__ import annotations

import resource

from harness.errors import EnvironmentFailure

# Connections one client may hold to one node at once: the fan-out's connection plus those
# left behind an overdue reply (a paused or partitioned node) until they are closed.
CONNECTIONS_PER_CLIENT_NODE = 4
BASE_DESCRIPTORS = 64  # stdio, logs, the toxiproxy API, libraries


def descriptors_needed(clients: int, nodes: int, *, proxied: bool) -> int:
    """The most descriptors one process of the run needs (toxiproxy-server when proxied)."""
    connections = (clients + 1) * nodes * CONNECTIONS_PER_CLIENT_NODE  # + the final phase's client
    if proxied:
        return BASE_DESCRIPTORS + clients * nodes + 2 * connections
    return BASE_DESCRIPTORS + connections


def plan_soft_limit(soft: int, hard: int, needed: int) -> int | None:
    """The soft limit to set: unchanged if enough, else `needed` (the hard limit caps it);
    None when even the hard limit is too low."""
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return soft
    if hard != resource.RLIM_INFINITY and hard < needed:
        return None
    return needed


def ensure_descriptors(clients: int, nodes: int, *, proxied: bool) -> tuple[int, int]:
    """Raise this process's soft RLIMIT_NOFILE to what the run needs; returns (needed, soft limit now).

    Raises EnvironmentFailure (exit 4) naming the numbers when the hard limit is too low.
    """
    needed = descriptors_needed(clients, nodes, proxied=proxied)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = plan_soft_limit(soft, hard, needed)
    if target is None:
        raise EnvironmentFailure(
            f"this run needs about {needed} open files per process ({clients} clients x {nodes} nodes"
            f"{' through toxiproxy' if proxied else ''}), but the hard limit RLIMIT_NOFILE is {hard} "
            f"(soft {soft}): raise it (ulimit -Hn {needed}, or limits.conf / systemd LimitNOFILE) "
            "or run fewer clients or nodes")
    if target != soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return needed, target
