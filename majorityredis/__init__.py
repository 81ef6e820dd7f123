"""Majority-quorum algorithms over N independent Redis servers.

    from majorityredis import MajorityRedis
    mr = MajorityRedis.from_urls(["redis://127.0.0.1:7001", ...], socket_timeout=0.5)
    with mr.lock("jobs:nightly", ttl=5.0, timeout=2.0) as held:
        ...  # held.token fences writes to the protected resource

The library never configures logging; it logs to `logging.getLogger("majorityredis")`.
"""

from majorityredis.client import MajorityRedis
from majorityredis.errors import LockNotAcquired, LockNotOwned, MajorityRedisError, NoQuorum
from majorityredis.lock import Lock
from majorityredis.queue import LockingQueue, Message
from majorityredis.register import Register

__all__ = ["MajorityRedis", "MajorityRedisError", "NoQuorum", "LockNotAcquired", "LockNotOwned",
           "Lock", "LockingQueue", "Message", "Register"]
