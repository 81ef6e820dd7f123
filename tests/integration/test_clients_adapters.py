"""Each client under test against real redis-server nodes, through its real adapter: in its
own venv and worker process (or in-process for ours). Acquire, a second client refused,
release, then the second gets it; extend where the library supports it.

The venvs are created on first use under .venv-clients/ (HARNESS_CLIENT_VENVS to move
them) and reused afterwards; a fresh creation of all seven takes a few minutes.
"""

from __future__ import annotations

import time

import pytest

from harness.clients import CLIENTS, open_lock_client, prepare_client

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=list(CLIENTS))
def client_name(request: pytest.FixtureRequest) -> str:
    prepare_client(request.param)  # the venv (cached after the first run)
    return request.param


def test_second_client_refused_until_release(client_name: str, redis3) -> None:  # type: ignore[no-untyped-def]
    spec = CLIENTS[client_name]
    with open_lock_client(client_name, redis3.urls, socket_timeout=0.5) as first, \
            open_lock_client(client_name, redis3.urls, socket_timeout=0.5) as second:
        before = time.monotonic()
        held = first.acquire("lock-a", ttl=5.0)
        assert held.outcome == "ok", held
        if spec.fencing_tokens:
            assert isinstance(held.token, int)
        else:
            assert held.token is None
        if spec.reports_validity:
            assert held.valid_until is not None and before < held.valid_until <= time.monotonic() + 5.0
        else:
            assert held.valid_until is None

        refused = second.acquire("lock-a", ttl=5.0)
        assert refused.outcome == "refused", refused
        # the key really is on the node(s) the library writes to
        holders = [c for c in redis3.clients() if any(c.scan_iter(match="*lock-a*"))]
        assert len(holders) >= (1 if spec.scope == "single-node" else 2), holders

        released = first.release("lock-a")
        assert released.outcome == "ok", released
        again = second.acquire("lock-a", ttl=5.0)
        assert again.outcome == "ok", again
        if spec.fencing_tokens:
            assert again.token > held.token
        assert second.release("lock-a").outcome == "ok"


def test_extend_where_supported(client_name: str, redis3) -> None:  # type: ignore[no-untyped-def]
    spec = CLIENTS[client_name]
    with open_lock_client(client_name, redis3.urls, socket_timeout=0.5) as first, \
            open_lock_client(client_name, redis3.urls, socket_timeout=0.5) as second:
        assert first.acquire("lock-b", ttl=3.0).outcome == "ok"  # both workers started already
        extended = first.extend("lock-b", ttl=3.0)
        if not spec.extend:
            assert extended.outcome == "unsupported"
            return
        assert extended.outcome == "ok", extended
        # 3.2 s after the grant: past the first ttl, so only the second extend keeps it
        time.sleep(1.6)
        assert first.extend("lock-b", ttl=3.0).outcome == "ok"
        time.sleep(1.6)
        assert second.acquire("lock-b", ttl=3.0).outcome == "refused"
        assert first.release("lock-b").outcome == "ok"
        # a released hold can no longer be extended by its former holder
        assert first.extend("lock-b", ttl=3.0).outcome == "refused"


# What the first acquire gives with one of three nodes stalled, where it is not "ok":
STALLED_GRANT = {
    "redlock-py": ("unknown", "MultipleRedlockException"),  # raises after quorum, without releasing
    "aioredlock": ("unknown", "deadline"),  # aioredis 1.x has no command timeout: gather waits forever
}


def test_a_stalled_node_costs_a_socket_timeout_not_a_minute(client_name: str, redis3) -> None:  # type: ignore[no-untyped-def]
    """With one of three nodes SIGSTOPped (it accepts connections and never answers), every
    call returns within the harness's deadline: the library's timeouts and retries are set.
    A majority lock still grants on the other two (except the libraries of STALLED_GRANT);
    a second client is refused or unknown, never granted. (A single-node lock's node is
    n1, which stays up.)"""
    with open_lock_client(client_name, redis3.urls, socket_timeout=0.3) as first, \
            open_lock_client(client_name, redis3.urls, socket_timeout=0.3) as second:
        redis3.servers[2].pause()
        try:
            started = time.monotonic()
            held = first.acquire("lock-c", ttl=5.0)
            contested = second.acquire("lock-c", ttl=5.0)
            released = first.release("lock-c")
            elapsed = time.monotonic() - started
        finally:
            redis3.servers[2].resume()
    outcome, words = STALLED_GRANT.get(client_name, ("ok", ""))
    assert held.outcome == outcome and words in (held.error or ""), held
    assert contested.outcome in ("refused", "unknown"), contested
    assert released.outcome in ("ok", "refused", "unknown"), released
    assert elapsed < 10, elapsed  # redis-py 8's defaults would take about a minute per call
    assert "did not answer" not in f"{held.error} {contested.error} {released.error}"  # no worker hung
