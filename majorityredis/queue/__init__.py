"""The LockingQueue: items held by one consumer at a time, by majority vote (see .queue for the design)."""

from majorityredis.queue.message import Message
from majorityredis.queue.queue import LockingQueue

__all__ = ["LockingQueue", "Message"]
