"""MajorityRedis construction: argument errors, defaults, and what from_urls passes to redis-py.

No server is needed: redis-py clients do not connect until first used.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import redis
from redis.connection import SSLConnection

from majorityredis import MajorityRedis
from majorityredis.register import Register


def clients(n: int, **kwargs) -> list[redis.Redis]:
    return [redis.Redis(host="127.0.0.1", port=1 + i, **kwargs) for i in range(n)]


def test_no_clients_is_an_error():
    with pytest.raises(ValueError, match="at least one redis client"):
        MajorityRedis([])


def test_n_servers_smaller_than_clients_is_an_error():
    with pytest.raises(ValueError, match=r"n_servers=2 is smaller than the 3 clients"):
        MajorityRedis(clients(3), n_servers=2)


def test_too_few_clients_for_a_quorum_is_an_error():
    with pytest.raises(ValueError, match=r"2 clients can never form a quorum of 3 out of n_servers=5") as info:
        MajorityRedis(clients(2), n_servers=5)
    assert "pass more clients or a smaller n_servers" in str(info.value)  # says what to do


def test_just_enough_clients_for_a_quorum_is_accepted():
    mr = MajorityRedis(clients(3), n_servers=5)
    assert (mr.n_servers, mr.quorum) == (5, 3)


@pytest.mark.parametrize("consistency", ["strong", "", "LINEARIZABLE", None])
def test_unknown_consistency_is_an_error(consistency):
    with pytest.raises(ValueError, match="consistency must be 'linearizable' or 'fast'"):
        MajorityRedis(clients(3), consistency=consistency)


@pytest.mark.parametrize("timeout", [0, 0.0, -1, -0.5])
def test_non_positive_timeout_is_an_error(timeout):
    with pytest.raises(ValueError, match="timeout must be > 0"):
        MajorityRedis(clients(3), timeout=timeout)


@pytest.mark.parametrize("timeout", [0, -2])
def test_from_urls_rejects_a_non_positive_timeout(timeout):
    with pytest.raises(ValueError, match="timeout must be > 0"):
        MajorityRedis.from_urls(["redis://127.0.0.1:1"], timeout=timeout)


def test_timeout_defaults_to_the_socket_timeout_or_one_second():
    assert MajorityRedis(clients(3, socket_timeout=0.25)).timeout == 0.25
    assert MajorityRedis(clients(3, socket_timeout=None)).timeout == 1.0  # never wait unbounded
    assert MajorityRedis(clients(3), timeout=2.5).timeout == 2.5


@pytest.mark.parametrize("n,quorum", [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (7, 4)])
def test_quorum_is_a_majority_of_the_servers(n, quorum):
    assert MajorityRedis(clients(n)).quorum == quorum


def test_from_urls_makes_one_client_per_url_without_retries():
    urls = ["redis://127.0.0.1:7001/0", "redis://127.0.0.1:7002/0", "redis://127.0.0.1:7003/0"]
    mr = MajorityRedis.from_urls(urls, socket_timeout=0.3)
    assert [c.connection_pool.connection_kwargs["port"] for c in mr.clients] == [7001, 7002, 7003]
    assert mr.timeout == 0.3  # defaults to the socket timeout
    for client in mr.clients:
        kwargs = client.connection_pool.connection_kwargs
        assert kwargs["socket_timeout"] == kwargs["socket_connect_timeout"] == 0.3
        assert kwargs["retry"].get_retries() == 0  # redis-py would otherwise retry a dead node for seconds
    assert mr.node_label(1) == "127.0.0.1:7002"


def test_from_urls_passes_passwords_through():
    mr = MajorityRedis.from_urls(["redis://:s3cret@127.0.0.1:7001/0", "redis://bob:pw2@127.0.0.1:7002/0",
                                  "redis://127.0.0.1:7003/0"])
    kwargs = [c.connection_pool.connection_kwargs for c in mr.clients]
    assert kwargs[0]["password"] == "s3cret"
    assert (kwargs[1]["username"], kwargs[1]["password"]) == ("bob", "pw2")
    assert kwargs[2].get("password") is None


def test_from_urls_passes_tls_and_other_options_through():
    urls = [f"rediss://:pw@127.0.0.1:{port}/0" for port in (7001, 7002, 7003)]
    mr = MajorityRedis.from_urls(urls, ssl_cert_reqs="none", ssl_ca_certs="/tmp/ca.pem", health_check_interval=7)
    for client in mr.clients:
        pool = client.connection_pool
        assert pool.connection_class is SSLConnection
        assert pool.connection_kwargs["ssl_cert_reqs"] == "none"
        assert pool.connection_kwargs["ssl_ca_certs"] == "/tmp/ca.pem"
        assert pool.connection_kwargs["health_check_interval"] == 7
        assert pool.connection_kwargs["password"] == "pw"


def test_from_urls_keeps_its_own_keywords():
    ticks = iter(range(1000))
    mr = MajorityRedis.from_urls([f"redis://127.0.0.1:{port}" for port in (1, 2, 3)], timeout=4.0, consistency="fast",
                                 clock=lambda: float(next(ticks)), n_servers=5)
    assert (mr.timeout, mr.consistency, mr.n_servers, mr.quorum) == (4.0, "fast", 5, 3)
    assert mr.clock() == 0.0 and mr.fanout.clock() == 1.0  # the injected clock reaches the fan-out
    assert mr.register.consistency == "fast"


def test_from_urls_argument_errors_surface():
    with pytest.raises(ValueError, match="at least one redis client"):
        MajorityRedis.from_urls([])
    with pytest.raises(ValueError, match="consistency"):
        MajorityRedis.from_urls(["redis://127.0.0.1:1"], consistency="eventual")


def test_register_argument_errors():
    mr = MajorityRedis(clients(3))
    assert mr.register.consistency == "linearizable"
    assert mr.register is mr.register  # one register (one writer id) per MajorityRedis
    with pytest.raises(ValueError, match="consistency must be one of"):
        Register(mr, consistency="sometimes")
    with pytest.raises(ValueError, match="writer_id"):
        Register(mr, writer_id=-1)
    with pytest.raises(ValueError, match="writer_id"):
        Register(mr, writer_id=10 ** 20)


def test_each_register_has_its_own_random_writer_id():
    mr = MajorityRedis(clients(3))
    ids = {Register(mr).writer_id for _ in range(20)}
    assert len(ids) == 20


def test_close_is_safe_without_any_call():
    mr = MajorityRedis.from_urls([f"redis://127.0.0.1:{port}" for port in (1, 2, 3)])
    mr.close()
    with MajorityRedis(clients(3)) as mr2:
        assert mr2.quorum == 2


def test_importing_the_library_adds_no_logging_handlers():
    """In a fresh interpreter: no handler on "majorityredis", the root logger untouched."""
    probe = """
import json, logging
root = logging.getLogger()
before = (list(root.handlers), root.level, logging.getLogger("majorityredis").level)
import majorityredis, majorityredis.register, majorityredis.fanout, majorityredis.client
lib = logging.getLogger("majorityredis")
print(json.dumps({"lib_handlers": len(lib.handlers), "root_same": (list(root.handlers), root.level,
                  lib.level) == before, "root_handlers": len(root.handlers), "propagate": lib.propagate}))
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == {"lib_handlers": 0, "root_same": True, "root_handlers": 0,
                                      "propagate": True}
