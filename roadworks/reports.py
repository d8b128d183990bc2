"""Residents' reports: filing (routed to the responsible agency), the bureau's answers, counts, contact erasure."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Callable

from shapely.geometry import box

from .auth import ANONYMOUS, Actor, Forbidden, Unauthenticated
from .domain import reports as rules
from .domain.errors import NotFound, StaleVersion, Unavailable, ValidationFailed
from .index import Entry, Snapshot
from .store.reports import ReportStore, Scope

log = logging.getLogger(__name__)

KEY_PREFIX = "rk_"
SYSTEM = "retention"  # the actor named in history when a contact is erased by the clock
ZERO = {state: 0 for state in rules.STATES}


@dataclass(frozen=True)
class Route:
    """Where a new report goes: its closure (if on one), the project and agency responsible, its position."""

    closure: str | None
    project: str | None
    agency: str | None  # None: administrators
    lon: float
    lat: float
    point_given: bool


def hash_key(key: str) -> str:
    # Keys carry 192 random bits, so one SHA-256 stores them safely (as tokens are).
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------- filing

def file_report(store: ReportStore, snapshot: Snapshot, body: Any, now: datetime,
                service_area=None) -> tuple[dict, str]:
    """Check a resident's report, route it and store it; the row and its key (shown once)."""
    if not isinstance(body, dict):
        raise ValidationFailed.one("", "the body must be a JSON object")
    unknown = sorted(set(body) - {"closure", "point", "kind", "text", "contact", "website"})
    if unknown:
        raise ValidationFailed({name: ["unknown field"] for name in unknown})
    if body.get("website") not in (None, ""):
        # A field people never see (the map hides it); scripts that fill every field fill it too.
        raise ValidationFailed.one("website", "must be left empty")
    errors: dict[str, list[str]] = {}
    kind = _collect(errors, lambda: rules.check_kind(body.get("kind")))
    text = _collect(errors, lambda: rules.plain_text(body.get("text"), "text", rules.TEXT_MAX))
    contact = _collect(errors, lambda: rules.check_contact(body.get("contact")))
    route = _collect(errors, lambda: route_of(snapshot, body.get("closure"), body.get("point"), now, service_area))
    if errors:
        raise ValidationFailed(errors)
    id, key = "r" + secrets.token_hex(8), KEY_PREFIX + secrets.token_urlsafe(24)
    group = store.recent_group(route.closure, now - rules.GROUP_SPAN) if route.closure else None
    row = {"id": id, "closure_id": route.closure, "project_id": route.project, "agency": route.agency,
           "lon": route.lon, "lat": route.lat, "point_given": route.point_given, "kind": kind, "text": text,
           "contact": contact.value if contact else None, "key_hash": hash_key(key), "state": "new", "reply": None,
           "group_id": group or id, "version": 1, "created_at": now, "updated_at": now, "closed_at": None,
           "contact_erased_at": None}
    store.add(row, "resident", {"kind": kind, "closure": route.closure, "contact": bool(contact)})
    return row, key


def _collect(errors: dict, check: Callable[[], Any]) -> Any:
    try:
        return check()
    except ValidationFailed as failure:
        for path, messages in failure.errors.items():
            errors.setdefault(path, []).extend(messages)
        return None


def route_of(snapshot: Snapshot, closure: Any, point: Any, now: datetime, service_area=None) -> Route:
    """The closure a report is about and who answers it.

    A named closure must be one the public sees. A point on (near) a closure is about it; a point on no
    closure goes to the agency of the nearest closure within NEAREST_M, else to administrators.
    """
    if closure is None and point is None:
        raise ValidationFailed.one("closure", "name a closure or give a point")
    position = rules.check_point(point, service_area) if point is not None else None
    if closure is not None:
        entry = _public_entry(snapshot, closure, now)
        if position is None:
            middle = entry.shape.interpolate(0.5, normalized=True)
            position = (round(middle.x, 7), round(middle.y, 7))
            return Route(entry.id, entry.project_id, entry.view.project.agency, *position, False)
        return Route(entry.id, entry.project_id, entry.view.project.agency, *position, True)
    lon, lat = position
    nearest = _nearest(snapshot, lon, lat, now)
    if nearest is None:
        return Route(None, None, None, lon, lat, True)
    entry, metres = nearest
    if metres <= rules.ON_CLOSURE_M:
        return Route(entry.id, entry.project_id, entry.view.project.agency, lon, lat, True)
    return Route(None, None, entry.view.project.agency, lon, lat, True)


def _public_entry(snapshot: Snapshot, closure: Any, now: datetime) -> Entry:
    if not isinstance(closure, str) or len(closure) > 64:
        raise ValidationFailed.one("closure", "must be a closure id")
    entry = snapshot.get(closure)
    if entry is None or not entry.visible(ANONYMOUS, now):
        raise ValidationFailed.one("closure", f"no published closure {closure!r}")
    return entry


def _nearest(snapshot: Snapshot, lon: float, lat: float, now: datetime) -> tuple[Entry, float] | None:
    dx, dy = rules.degrees_around(lat, rules.NEAREST_M)
    found = [(rules.metres_between(lon, lat, e.shape), e.id, e)
             for e in snapshot.candidates(box(lon - dx, lat - dy, lon + dx, lat + dy)) if e.visible(ANONYMOUS, now)]
    found = [f for f in found if f[0] <= rules.NEAREST_M]
    if not found:
        return None
    metres, _, entry = min(found, key=lambda f: (f[0], f[1]))
    return entry, metres


# ---------------------------------------------------------------------- who sees what

def scope_of(actor: Actor) -> Scope:
    """The queue an actor may read: an editor its agency's, an admin everything."""
    if not actor.is_editor:
        if actor.role is None:
            raise Unauthenticated("the queue needs an editor or admin bearer token")
        raise Forbidden("only editors and administrators read residents' reports")
    return Scope(None if actor.role == "admin" else actor.agency)


def responsible(store: ReportStore, actor: Actor, row: dict) -> bool:
    """Whether `actor` answers this report (and so may see its contact)."""
    if actor.role == "admin":
        return True
    if actor.role != "editor":
        return False
    if row["project_id"] is not None:
        project = store.store.get("project", row["project_id"], include_deleted=True)
        return project is not None and project.doc.get("agency") == actor.agency
    return row["agency"] is not None and row["agency"] == actor.agency


def staff_report(store: ReportStore, actor: Actor, id: str) -> dict:
    row = store.get(id)
    if row is None or not responsible(store, actor, row):
        raise NotFound(f"no report {id!r} for this token")
    return row


def keyed_report(store: ReportStore, id: str, key: str) -> dict:
    """The report whose key this is; any mismatch is the same 404, so nothing tells ids and keys apart."""
    row = store.get(id) if len(id) <= 32 else None
    if row is None or not hmac.compare_digest(row["key_hash"], hash_key(key)):
        raise NotFound(f"no report {id!r} with this key")
    return row


# ---------------------------------------------------------------------- the bureau's answer

def answer(store: ReportStore, actor: Actor, id: str, version: int | None, body: Any, now: datetime) -> dict:
    """Move a report on (new -> acknowledged -> resolved | rejected) and/or set its public reply."""
    row = staff_report(store, actor, id)
    if not isinstance(body, dict) or not body:
        raise ValidationFailed.one("", 'send {"state": ..., "reply": ...} (one of them at least)')
    unknown = sorted(set(body) - {"state", "reply"})
    if unknown:
        raise ValidationFailed({name: ["unknown field; only state and reply can change"] for name in unknown})
    values: dict[str, Any] = {}
    if "state" in body:
        values["state"] = rules.check_transition(row["state"], body["state"])
    if "reply" in body:
        values["reply"] = rules.plain_text(body["reply"], "reply", rules.REPLY_MAX, required=False)
    state = values.get("state", row["state"])
    if state in rules.CLOSED_STATES and not values.get("reply", row["reply"]):
        raise ValidationFailed.one("reply", f"a {state} report needs a public reply telling the resident why")
    changes = {k: [row[k], v] for k, v in values.items() if row[k] != v}
    if state != row["state"] and state in rules.CLOSED_STATES:
        values["closed_at"] = now
    action = values["state"] if "state" in changes else "replied"
    try:
        # Checked against the version read (also for If-Match: *), so a transition allowed above still is.
        expected = row["version"] if version is None else version
        saved = store.update(id, expected, values, actor=actor.name, action=action, changes=changes, now=now)
    except LookupError:
        raise StaleVersion(f"report {id!r} has changed since version {version}") from None
    if saved is None:
        raise NotFound(f"no report {id!r}")
    return saved


def erase_contacts(store: ReportStore, now: datetime) -> list[str]:
    """Erase every contact kept past 180 days after its report was resolved or rejected."""
    erased = store.erase_contacts(now - rules.CONTACT_KEPT, now, SYSTEM)
    if erased:
        log.info("erased the contact of %d closed reports", len(erased))  # never the contacts themselves
    return erased


def start_eraser(store: ReportStore, clock: Callable[[], datetime], every_seconds: float) -> threading.Thread:
    """A daemon thread erasing due contacts now and then every `every_seconds` (idempotent in several workers)."""
    stop = threading.Event()

    def run() -> None:
        while True:
            try:
                erase_contacts(store, clock())
            except Unavailable as error:
                log.warning("contact erasure postponed: %s", error)
            if stop.wait(every_seconds):
                return

    thread = threading.Thread(target=run, name="report-contact-eraser", daemon=True)
    thread.stop = stop  # type: ignore[attr-defined]
    thread.start()
    return thread


# ---------------------------------------------------------------------- counts on public closures

class ReportCounts:
    """Report counts by state of every closure, loaded once per change sequence (reports move it) per process."""

    def __init__(self, store: ReportStore):
        self.store = store
        self._held: Counted | None = None
        self._lock = threading.Lock()

    def at(self, seq: int) -> "Counted":
        """The counts as of change `seq` (the last ones loaded while the database is away)."""
        held = self._held
        if held is None or held.seq != seq:
            with self._lock:
                held = self._held
                if held is None or held.seq != seq:
                    try:
                        counts, latest = self.store.counts()
                        held = self._held = Counted(seq, counts, latest)
                    except Unavailable:
                        if held is None:
                            raise
        return held


@dataclass(frozen=True)
class Counted:
    """Counts by state and the last report change of each closure that has reports."""

    seq: int
    counts: dict[str, dict[str, int]]
    latest: dict[str, datetime]

    def of(self, closure: str) -> dict[str, int]:
        return {**ZERO, **self.counts.get(closure, {})}

    def last_change(self, closures) -> datetime | None:
        """The newest report change among these closures: their answers changed then too (Last-Modified)."""
        return max((self.latest[c] for c in closures if c in self.latest), default=None)


def with_reports(life, counted: Counted, closures) -> Any:
    """A Lifetime whose last change counts the report changes of these closures (never past its build)."""
    moved = counted.last_change(closures)
    if moved is None or (life.changed_at is not None and moved <= life.changed_at):
        return life
    return replace(life, changed_at=min(moved, life.built_at))
