"""The queue workload: producers put unique payloads; consumers get, work, then consume,
release or crash; a final drain empties the queue so lost items show.

Client slots 0..producers-1 produce, the others consume. A consumer that crashes
abandons its held item (the hold expires after its TTL and another consumer gets
it) and continues under a new process id. History: see docs/design.md,
"History contents per workload" (put, get, extend, consume, release, crash, drain).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from harness.workload.base import (
    ClientContext,
    Pacer,
    ProcessHistory,
    Workload,
    WorkloadParams,
    error_text,
    hold_ttl,
    register_workload,
    run_with_library,
)


class QueueParams(WorkloadParams):
    """`workload:` section of a queue scenario."""

    type: Literal["queue"]
    queue: str = Field("q", min_length=1, description="queue name")
    producers: int = Field(1, ge=1, description="client slots 0..producers-1 put; the rest get")
    put_rate: float | None = Field(10.0, gt=0, description="puts per second per producer")
    get_rate: float | None = Field(10.0, gt=0, description="gets per second per consumer")
    ttl: Annotated[float, AfterValidator(hold_ttl)] = Field(2.0, gt=0, description="hold TTL of a got item (s)")
    work_ms: int = Field(20, ge=0, description="how long a consumer works on an item before deciding (ms)")
    priorities: int = Field(1, ge=1, description="priorities 0..priorities-1 drawn at random per put")
    extend_probability: float = Field(0.2, ge=0, le=1, description="chance a consumer extends its hold")
    release_probability: float = Field(0.1, ge=0, le=1, description="chance a consumer releases instead of consuming")
    crash_probability: float = Field(0.05, ge=0, le=1, description="chance a consumer crashes holding the item")
    drain_timeout: float = Field(30.0, gt=0, description="longest the final drain may take (s)")


@dataclass(frozen=True, slots=True)
class ConsumerPlan:
    """What a consumer does with the item it got."""

    extend: bool
    outcome: str  # "consume" | "release" | "crash"


class QueueGenerator:
    """Pure, seeded: payloads and priorities of a producer, plans of a consumer."""

    def __init__(self, params: QueueParams, rng: random.Random, *, slot: int) -> None:
        self.params = params
        self.rng = rng
        self.slot = slot
        self._puts = 0

    def next_put(self) -> tuple[str, int]:
        """A payload unique in the run (slot + per-slot counter) and a priority."""
        item = f"p{self.slot}-{self._puts}"
        self._puts += 1
        priority = self.rng.randrange(self.params.priorities)
        return item, priority

    def next_plan(self) -> ConsumerPlan:
        p = self.params
        extend = self.rng.random() < p.extend_probability
        draw = self.rng.random()
        if draw < p.crash_probability:
            outcome = "crash"
        elif draw < p.crash_probability + p.release_probability:
            outcome = "release"
        else:
            outcome = "consume"
        return ConsumerPlan(extend=extend, outcome=outcome)


@register_workload
class QueueWorkload(Workload):
    name = "queue"
    Params = QueueParams
    default_checkers = ("queue",)

    def __init__(self, params: QueueParams, *, seed: int, clients: int) -> None:  # type: ignore[override]
        super().__init__(params, seed=seed, clients=clients)
        self.params: QueueParams = params

    def validate_for(self, clients: int) -> str | None:
        if self.params.producers >= clients:
            return (f"producers ({self.params.producers}) must be fewer than clients ({clients}): "
                    "at least one client must consume")
        return None

    def keys(self) -> list[str]:
        return [self.params.queue]

    def is_producer(self, slot: int) -> bool:
        return slot < self.params.producers

    def run_client(self, ctx: ClientContext) -> None:
        generator = QueueGenerator(self.params, ctx.rng, slot=ctx.slot)
        producer = self.is_producer(ctx.slot)
        pacer = Pacer(self.params.put_rate if producer else self.params.get_rate, ctx.runtime.clock,
                      phase=ctx.rng.random())

        def loop(mr: Any) -> None:
            queue = mr.queue(self.params.queue)
            while not ctx.wait(pacer.delay()):
                if producer:
                    self.put(queue, ctx.history, *generator.next_put())
                else:
                    message = self.get(queue, ctx)
                    if message is not None:
                        self.handle(queue, ctx, message, generator.next_plan())

        run_with_library(self, ctx, loop)

    # -- ops ---------------------------------------------------------------------
    def put(self, queue: Any, h: ProcessHistory, item: str, priority: int) -> None:
        name = self.params.queue
        h.invoke("put", name, {"item": item, "priority": priority})
        try:
            message_id = queue.put(item, priority=priority)
        except Exception as error:  # noqa: BLE001 - unknown outcome
            h.info("put", name, {"item": item, "priority": priority}, error=error_text(error))
            return
        h.ok("put", name, {"item": item, "id": _text(message_id)})

    def get(self, queue: Any, ctx: ClientContext) -> Any:
        h, clock = ctx.history, ctx.runtime.clock
        name, ttl = self.params.queue, self.params.ttl
        h.invoke("get", name, {"ttl_ms": int(ttl * 1000)})
        started = clock()
        try:
            message = queue.get(ttl=ttl)
        except Exception as error:  # noqa: BLE001
            h.info("get", name, {"ttl_ms": int(ttl * 1000)}, error=error_text(error))
            return None
        if message is None:
            h.ok("get", name, None)
            return None
        h.ok("get", name, {"item": _text(message.item), "id": _text(message.id), "token": int(message.token),
                           "validity_ms": _validity_ms(message, ttl, started, clock)})
        return message

    def handle(self, queue: Any, ctx: ClientContext, message: Any, plan: ConsumerPlan) -> None:
        h, name = ctx.history, self.params.queue
        ctx.runtime.sleep(self.params.work_ms / 1000.0)
        if plan.extend and not self._extend(queue, ctx, message):
            return  # hold lost: nothing more to do with this item
        if plan.outcome == "crash":
            h.invoke("crash", name, {"item": _text(message.item)})
            h.info("crash", name, {"item": _text(message.item)})  # continue as a new process
        elif plan.outcome == "release":
            self._release(queue, h, message)
        else:
            self.consume(queue, h, message)

    def _ref(self, message: Any) -> dict[str, Any]:
        return {"item": _text(message.item), "id": _text(message.id), "token": int(message.token)}

    def _extend(self, queue: Any, ctx: ClientContext, message: Any) -> bool:
        h, clock = ctx.history, ctx.runtime.clock
        name, ref = self.params.queue, self._ref(message)
        h.invoke("extend", name, ref)
        started = clock()
        try:
            extended = queue.extend_lock(message)
        except Exception as error:  # noqa: BLE001
            h.info("extend", name, ref, error=error_text(error))
            return False
        if not extended:
            h.fail("extend", name, ref)
            return False
        h.ok("extend", name, {"item": ref["item"], "token": ref["token"],
                              "validity_ms": _validity_ms(message, self.params.ttl, started, clock)})
        return True

    def consume(self, queue: Any, h: ProcessHistory, message: Any) -> None:
        name, ref = self.params.queue, self._ref(message)
        h.invoke("consume", name, ref)
        try:
            consumed = queue.consume(message)
        except Exception as error:  # noqa: BLE001
            h.info("consume", name, ref, error=error_text(error))
            return
        if consumed is False:
            # the hold was lost; completed markers may already be on a minority, and a get that
            # meets one removes the item everywhere, so "not consumed" is not certain: info, not fail
            h.info("consume", name, ref, error="hold lost before a quorum completed the item")
        else:
            h.ok("consume", name, {"item": ref["item"]})

    def _release(self, queue: Any, h: ProcessHistory, message: Any) -> None:
        name, ref = self.params.queue, self._ref(message)
        h.invoke("release", name, ref)
        try:
            queue.release(message)
        except Exception as error:  # noqa: BLE001
            if _is_not_owned(error):
                h.fail("release", name, ref)
            else:
                h.info("release", name, ref, error=error_text(error))
            return
        h.ok("release", name, {"item": ref["item"]})

    # -- final drain -------------------------------------------------------------
    def final_phase(self, ctx: ClientContext) -> None:
        """Get and consume until the queue is empty (held items expire meanwhile), then `drain`."""
        name = self.params.queue

        def drain(mr: Any) -> None:
            queue = mr.queue(name)
            clock = ctx.runtime.clock
            deadline = clock() + self.params.drain_timeout
            while clock() < deadline:
                message = self.get(queue, ctx)
                if message is not None:
                    self.consume(queue, ctx.history, message)
                    continue
                try:
                    if queue.size() == 0:
                        break
                except Exception:  # noqa: BLE001 - retry until the deadline
                    pass
                ctx.runtime.sleep(0.2)  # items held by crashed consumers come back when their TTL ends
            h = ctx.history
            h.invoke("drain", name)
            try:
                size = int(queue.size())
            except Exception as error:  # noqa: BLE001
                h.info("drain", name, error=error_text(error))
                return
            h.ok("drain", name, {"size": size})

        run_with_library(self, ctx, drain)


def _text(value: Any) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def _validity_ms(message: Any, ttl: float, started: float, clock: Callable[[], float]) -> int:
    """What is left of the hold: the library's own measure when it has one, else the TTL
    minus the whole time the call took (conservative: the hold began after the invoke)."""
    validity = getattr(message, "validity", None)
    if callable(validity):
        try:
            return max(0, int(validity() * 1000))
        except Exception:  # noqa: BLE001
            pass
    return max(0, int((ttl - (clock() - started)) * 1000))


def _is_not_owned(error: BaseException) -> bool:
    try:
        from majorityredis import LockNotOwned
    except ImportError:  # pragma: no cover
        return False
    return isinstance(error, LockNotOwned)
