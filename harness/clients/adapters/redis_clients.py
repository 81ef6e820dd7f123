"""redis-py clients with every timeout and retry set explicitly (for adapters whose library
takes redis-py clients). redis-py 8's defaults (5 s socket timeout, 10 retries with
backoff) make one command to a dead node take about a minute; here a command gets one
attempt of at most `socket_timeout` seconds to connect and as long to answer."""

from __future__ import annotations

from typing import Any

from protocol import parse_url


def redis_client(url: str, socket_timeout: float) -> Any:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    where = parse_url(url)
    return redis.Redis(host=where["host"], port=where["port"], db=where["db"], password=where["password"],
                       socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout,
                       retry=Retry(NoBackoff(), 0), retry_on_timeout=False)
