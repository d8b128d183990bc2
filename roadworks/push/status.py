"""Status changes at their instant: each published closure's last announced status, and when it changes next."""

from __future__ import annotations

import logging
import random
from datetime import datetime

from ..index import ReadModel, Snapshot
from ..pages import local_iso
from ..store.push import PushStore

log = logging.getLogger(__name__)
MAX_WAIT = 0.5  # seconds between looks even when nothing is due: a moved clock or a missed wake is caught
STEPS = 50  # boundaries walked per closure and look (a worker down for long catches up in later looks)
CHUNK = 500


class StatusScheduler:
    """Emits closure.status_changed (old and new status) when a boundary passes or a write moves a status.

    The table `closure_status` holds what was announced, so a restart neither repeats nor loses a change.
    """

    def __init__(self, push: PushStore, index: ReadModel, clock):
        self.push, self.index, self.clock = push, index, clock
        self.seq: int | None = None

    def step(self) -> float:
        """One look; the seconds to wait before the next."""
        snapshot, now = self.index.snapshot(), self.clock()
        self._due(snapshot, now)
        if self.seq is None or snapshot.seq < self.seq:
            self._reconcile(snapshot, None, now)
        elif snapshot.seq != self.seq:
            self._reconcile(snapshot, self._changed(snapshot), now)
        self.seq = snapshot.seq
        upcoming = self.push.next_status_check()
        # Jittered, so its looks never fall in step with a periodic writer (a sensor, a bench) and always on
        # the same writes.
        longest = MAX_WAIT * random.uniform(0.5, 1.0)
        if upcoming is None:
            return longest
        return min(longest, max(0.01, (upcoming - self.clock()).total_seconds()))

    def _changed(self, snapshot: Snapshot) -> set[str]:
        changed = self.push.store.changed_since(self.seq)
        ids = {s.id for s in changed.closures}
        projects = {s.id for s in changed.projects}
        if projects:  # a project's pauses or zone move every one of its closures
            ids |= {e.id for e in snapshot.entries() if e.project_id in projects}
        return ids

    def _reconcile(self, snapshot: Snapshot, ids: set[str] | None, now: datetime) -> None:
        if ids is None:
            entries = {e.id: e for e in snapshot.entries()}
            stored = self.push.statuses()
        else:
            entries = {id: snapshot.get(id) for id in ids}
            stored = self.push.statuses(ids)
        seen, rows, events = {}, {}, {}
        for id in set(entries) | set(stored):
            entry, old = entries.get(id), stored.get(id)
            want = _row(entry, now)
            if want == old:
                continue
            seen[id], rows[id] = old, want
            if old and want and old[0] and want[0] and old[0] != want[0]:
                events[id] = [_event(entry, old[0], want[0], now)]
        self._apply(seen, rows, events)

    def _due(self, snapshot: Snapshot, now: datetime) -> None:
        due = self.push.due_statuses(now, 5000)
        seen, rows, events = {}, {}, {}
        published = False
        for id, (status, check) in due.items():
            entry = snapshot.get(id)
            seen[id] = (status, check)
            if entry is None:
                rows[id] = None
                continue
            found, rows[id] = _walk(entry, status, check, now)
            events[id] = found
            published |= status is None and rows[id][0] is not None
        self._apply(seen, rows, events)
        if published:
            self.push.store.publish_due(now)  # the draft's publication as closure.updated, at its instant

    def _apply(self, seen: dict, rows: dict, events: dict) -> None:
        ids = list(rows)
        for start in range(0, len(ids), CHUNK):
            part = ids[start:start + CHUNK]
            self.push.apply_statuses({i: seen.get(i) for i in part}, {i: rows[i] for i in part},
                                     {i: events[i] for i in part if events.get(i)})


def _row(entry, now: datetime) -> tuple[str | None, datetime | None] | None:
    """What `closure_status` should hold for this entry now: (status or None before publication, next look)."""
    if entry is None:
        return None
    if entry.published_at is not None and entry.published_at > now:
        return None, entry.published_at
    timeline = entry.timeline
    return timeline.status_at(now), timeline.next_change(now)


def _walk(entry, status: str | None, at: datetime | None, now: datetime) -> tuple[list[dict], tuple]:
    """The status changes from `at` up to `now`, each at its boundary; and the row after them."""
    timeline, found = entry.timeline, []
    for _ in range(STEPS):
        if at is None or at > now:
            return found, (status, at)
        if entry.published_at is not None and entry.published_at > at:
            at = entry.published_at
            continue
        new = timeline.status_at(at)
        if status is not None and new != status:
            found.append(_event(entry, status, new, at))
        status, at = new, timeline.next_change(at)
    return found, (status, at)  # far behind: the next look walks on from here


def _event(entry, old: str, new: str, at: datetime) -> dict:
    project = entry.view.project
    return {"at": at, "data": {"old_status": old, "new_status": new, "at": local_iso(at, project),
                               "project": entry.project_id, "road": entry.view.closure.road}}
