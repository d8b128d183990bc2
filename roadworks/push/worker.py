"""The delivery worker: claims subscriptions with events to send, posts them signed, in order, with retries.

A dispatcher wakes on a write in this process, a PostgreSQL NOTIFY or Redis message from another, or a short
poll; it leases the subscriptions that have work (SKIP LOCKED on PostgreSQL, so several workers share them)
and hands each to a thread pool: one task per subscription at a time keeps `seq` order, and timeouts keep a
hanging receiver from holding anyone else. Outcomes are recorded in batches by one bookkeeping thread.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import urllib3

from ..store.push import Listener, Outcome, PushStore
from . import addresses, metrics, signing
from .events import Preparer, matches
from .status import StatusScheduler

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
GIVE_UP = timedelta(hours=24)
# Delays after the 1st, 2nd... failed attempt; then hourly until GIVE_UP. Each is jittered by up to +-20 %.
BACKOFF = (5, 30, 120, 600, 1800)
HOURLY = 3600
BATCH = 100  # events a task sends before it hands its subscription back
PRUNE_EVERY = 600  # seconds
RETENTION = timedelta(days=7)  # events kept for redelivery
SETTLE = 0.03  # seconds between a wake and the claim


def backoff(attempts: int, rng: random.Random = random) -> timedelta:
    """The wait after `attempts` failed attempts: about 5 s, 30 s, 2 min, 10 min, 30 min, then hourly."""
    base = BACKOFF[attempts - 1] if attempts <= len(BACKOFF) else HOURLY
    return timedelta(seconds=base * rng.uniform(0.8, 1.2))


def wall() -> datetime:
    return datetime.now(timezone.utc)


class Worker:
    """Delivers partner push for one process: `start`, then `stop`; `wake` after a commit that announced events."""

    def __init__(self, push: PushStore, index, clock, *, allow_private: bool = False, threads: int = 16,
                 poll: float = 0.25, connect_timeout: float = 3.0, read_timeout: float = 10.0,
                 redis_url: str = "", statuses: bool = True):
        self.push, self.clock, self.allow_private = push, clock, allow_private
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.preparer = Preparer(push)
        self.scheduler = StatusScheduler(push, index, clock) if statuses else None
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="push-send")
        # One pool per scheme, checked address, port and URL host (see _open); the least recently used of more
        # than num_pools are closed.
        self.http = urllib3.PoolManager(num_pools=1000, maxsize=2, retries=False, block=False,
                                        timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout))
        self.poll, self.redis_url = poll, redis_url
        self.woken = threading.Event()
        self.stopping = threading.Event()
        self.outcomes: queue.Queue[Outcome] = queue.Queue()
        self.inflight: set[str] = set()
        self.threads: list[threading.Thread] = []
        self.listener = Listener(push.engine) if push.engine.dialect.name == "postgresql" else None

    # ------------------------------------------------------------------ life

    def start(self) -> "Worker":
        self.push.store.on_announce.append(self.wake)
        loops = [self._dispatch, self._bookkeep]
        if self.scheduler is not None:
            loops.append(self._schedule)
        if self.listener is not None:
            loops.append(self._listen)
        if self.redis_url:
            loops.append(self._subscribe)
        for loop in loops:
            thread = threading.Thread(target=self._guarded, args=(loop,), name=f"push-{loop.__name__[1:]}",
                                      daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        self.woken.set()
        if self.wake in self.push.store.on_announce:
            self.push.store.on_announce.remove(self.wake)
        self.pool.shutdown(wait=True, cancel_futures=True)
        for thread in self.threads:
            thread.join(timeout)
        if self.listener is not None:
            self.listener.close()
        try:
            self.push.release(self.owner)
        except Exception:
            log.warning("push: leases not given back; they lapse in %s", LEASE, exc_info=True)
        self.http.clear()

    def wake(self) -> None:
        self.woken.set()

    def _guarded(self, loop) -> None:
        while not self.stopping.is_set():
            try:
                loop()
                return
            except Exception:  # the database is down, say: log, wait a little, carry on
                log.exception("push: %s failed; retrying", loop.__name__)
                self.stopping.wait(1.0)

    # ------------------------------------------------------------------ loops

    def _dispatch(self) -> None:
        pruned = 0.0
        while not self.stopping.is_set():
            if self.woken.wait(self.poll * random.uniform(0.5, 1.0)):
                # Let the write that woke us finish its answer before deliveries compete with it for the
                # interpreter; writes landing meanwhile are taken in the same round.
                self.stopping.wait(SETTLE)
            self.woken.clear()
            if self.stopping.is_set():
                return
            claimed = self.push.claim(self.owner, wall() + LEASE, self.clock(), 500, exclude=set(self.inflight))
            # One read of the events for all of them: most subscriptions stand at the same cursor.
            shared = self.push.events_after(min(s["cursor"] for s in claimed), BATCH) if claimed else None
            for subscription in claimed:
                self.inflight.add(subscription["id"])
                self.pool.submit(self._task, subscription, shared)
            if time.monotonic() - pruned > PRUNE_EVERY:
                pruned = time.monotonic()
                self.push.prune(wall() - RETENTION)

    def _bookkeep(self) -> None:
        while not (self.stopping.is_set() and not self.inflight):
            try:
                batch = [self.outcomes.get(timeout=0.5)]
            except queue.Empty:
                continue
            while True:
                try:
                    batch.append(self.outcomes.get_nowait())
                except queue.Empty:
                    break
            self._record(batch)
            for outcome in batch:
                self.inflight.discard(outcome.subscription_id)
            self.woken.set()  # those subscriptions may have more to send

    def _record(self, batch: list[Outcome]) -> None:
        while True:
            try:
                self.push.record(self.owner, batch)
                return
            except Exception:
                if self.stopping.is_set():
                    return  # the leases lapse; the events are sent again (at least once)
                log.exception("push: delivery outcomes not recorded; retrying")
                self.stopping.wait(1.0)

    def _schedule(self) -> None:
        try:
            while not self.stopping.is_set():
                self.stopping.wait(self.scheduler.step())
        finally:
            self.push.store.release_reader()  # the read model's per-thread connection, kept for `sequence`

    def _listen(self) -> None:
        while not self.stopping.is_set():
            if self.listener.wait(1.0):
                self.woken.set()

    def _subscribe(self) -> None:
        import redis

        pubsub = redis.Redis.from_url(self.redis_url).pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(CHANNEL)
        while not self.stopping.is_set():
            if pubsub.get_message(timeout=1.0) is not None:
                self.woken.set()

    # ------------------------------------------------------------------ one subscription

    def _task(self, subscription: dict, shared: list[dict] | None = None) -> None:
        try:
            outcome = self.deliver(subscription, shared)
        except Exception as error:  # never lose the lease bookkeeping: retry this event later
            log.exception("push: delivery to subscription %s failed", subscription["id"])
            outcome = self._failed(subscription, subscription["cursor"], subscription["attempts"],
                                   subscription["failing_since"], f"worker error: {error}", [])
        self.outcomes.put(outcome)

    def deliver(self, subscription: dict, shared: list[dict] | None = None) -> Outcome:
        """Send the subscription's events after its cursor, in order, until one fails or the batch ends."""
        cursor, rows = subscription["cursor"], []
        keys = self._keys(subscription)
        for event in self.preparer.after(cursor, BATCH, shared):
            if self.stopping.is_set():
                break
            if not matches(subscription, event):
                cursor = event.id
                continue
            attempt = subscription["attempts"] + 1
            error, status, seconds = self._post(subscription, event, keys)
            message = f"msg_{subscription['id']}_{event.id}"
            rows.append({"subscription_id": subscription["id"], "event_id": event.id, "webhook_id": message,
                         "attempt": attempt, "at": self.clock(), "outcome": "delivered" if error is None else "failed",
                         "status_code": status, "error": error, "duration_ms": round(seconds * 1000, 2)})
            if error is not None:
                return self._failed(subscription, cursor, attempt, subscription["failing_since"], error, rows)
            metrics.DELIVERIES.labels("delivered").inc()
            metrics.LAG.observe(max(0.0, (wall() - event.created_at).total_seconds()))
            cursor = event.id
            subscription = dict(subscription, attempts=0, failing_since=None)
        return Outcome(subscription["id"], cursor, 0, None, None, None, None, rows)

    def _failed(self, subscription: dict, cursor: int, attempts: int, since: datetime | None, error: str,
                rows: list[dict]) -> Outcome:
        now = self.clock()
        since = since or now
        metrics.DELIVERIES.labels("failed").inc()
        if now - since >= GIVE_UP:
            metrics.DELIVERIES.labels("gave-up").inc()
            log.warning("push: subscription %s (%s) marked failing after %d attempts since %s: %s",
                        subscription["id"], subscription["owner"], attempts, since.isoformat(), error)
            if rows:
                rows[-1]["outcome"] = "gave-up"
            return Outcome(subscription["id"], cursor, attempts, None, since, error, "failing", rows)
        return Outcome(subscription["id"], cursor, attempts, now + backoff(attempts), since, error, None, rows)

    def _keys(self, subscription: dict) -> list[str]:
        keys = [subscription["secret"]]
        until = subscription["old_secret_until"]
        if subscription["old_secret"] and until is not None and until > self.clock():
            keys.append(subscription["old_secret"])
        return keys

    def _post(self, subscription: dict, event, keys: list[str]) -> tuple[str | None, int | None, float]:
        """POST one event; (None, status, seconds) on a 2xx, else (the reason, status or None, seconds)."""
        started = time.perf_counter()
        try:
            to = addresses.destination(subscription["url"], self.allow_private)  # may point elsewhere by now
        except addresses.Refused as refused:
            return f"refused: {refused}", None, time.perf_counter() - started
        headers = signing.headers(f"msg_{subscription['id']}_{event.id}", event.body, keys)
        headers.update({"Content-Type": "application/json", "User-Agent": "Roadworks-Webhooks/1",
                        "Host": authority(to)})
        try:
            response = self._open(to, urllib3.util.parse_url(subscription["url"]).request_uri, event.body.encode(),
                                  headers)
            try:
                response.read(64 * 1024, decode_content=False)  # a bounded read keeps the connection reusable
            finally:
                response.release_conn()
        except (urllib3.exceptions.HTTPError, OSError) as error:
            return f"{type(error).__name__}: {error}"[:500], None, time.perf_counter() - started
        seconds = time.perf_counter() - started
        if 200 <= response.status < 300:
            return None, response.status, seconds
        return f"HTTP {response.status}", response.status, seconds

    def _open(self, to: addresses.Destination, target: str, body: bytes, headers: dict):
        """POST to the first checked address that takes the connection.

        The pool dials the address itself: urllib3 given the name would resolve it again, and a name with a zero
        TTL could answer our own network then (DNS rebinding). TLS still names the URL's host, for SNI and for the
        certificate check. The next address is tried only when no connection was made, so nothing is sent twice.
        """
        for n, address in enumerate(to.addresses, 1):
            pool = self.http.connection_from_host(address, to.port, to.scheme,
                                                  pool_kwargs={"server_hostname": to.host})
            try:
                return pool.urlopen("POST", target, body=body, headers=headers, retries=False, redirect=False,
                                    preload_content=False)
            except urllib3.exceptions.ConnectTimeoutError:  # NewConnectionError too: refused or unreachable
                if n == len(to.addresses):
                    raise


def authority(to: addresses.Destination) -> str:
    """The Host header: the URL's host, and its port unless the scheme's own."""
    host = f"[{to.host}]" if ":" in to.host else to.host
    return host if to.port == (443 if to.scheme == "https" else 80) else f"{host}:{to.port}"


CHANNEL = "roadworks-push"


def redis_announcer(url: str):
    """A wake for workers on other hosts through Redis pub/sub (ROADWORKS_REDIS_URL), called after commits.

    The write only sets an event; a thread of its own publishes, so a slow or absent Redis never delays a write.
    """
    import redis

    if url in _announcers:
        return _announcers[url]
    connection = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    pending = threading.Event()

    def publish_forever() -> None:
        while True:
            pending.wait()
            pending.clear()
            try:
                connection.publish(CHANNEL, b"1")
            except redis.RedisError:
                time.sleep(1.0)  # the workers' poll still finds the events meanwhile

    threading.Thread(target=publish_forever, name="push-announce", daemon=True).start()
    _announcers[url] = pending.set
    return pending.set


_announcers: dict[str, object] = {}  # one thread per Redis, however many apps


def for_services(services, **options) -> Worker:
    """A worker on an app's services and settings (`roadworks worker`, and the one `roadworks serve` runs)."""
    settings = services.settings
    chosen = dict(allow_private=addresses.private_allowed(settings), threads=int(settings["PUSH_THREADS"]),
                  redis_url=settings["REDIS_URL"])
    return Worker(services.push, services.index, services.clock, **{**chosen, **options})
