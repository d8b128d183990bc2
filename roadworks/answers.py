"""Public answers: the bytes a read gets, how long they hold, and the one cache that keeps them.

Every public representation (closures, projects, feeds, OGC API, Open511) is built by a function of the
snapshot, the parsed query, who asks and the clock, giving an `Answer`: its body, its validators and its
lifetime. The lifetime is stated once, by `lifetime`, for every representation: an answer holds until a
status or a publication among the closures it was built from changes it, or a moment the format names
(a feed's horizon sliding). `AnswerCache` keeps answers by (representation, change sequence, query,
audience) within a byte budget, with their compressed copies, and knows which raw query strings ask for
which kept answer so the WSGI layer can replay them without parsing anything.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Hashable, Iterable

from .auth import Actor
from .budget import ByteLru
from .domain.errors import TooLarge
from .index import Entry, Snapshot

# Anonymous readers and partners: everyone who sees published closures only.
PUBLIC = ("public",)
# What one kept answer costs beyond its body, headers and key: the object, its dates, the dict slots.
ANSWER_OVERHEAD = 512


def audience_of(actor: Actor) -> tuple:
    """Who an answer is for: drafts differ by agency and role, everyone else sees the same."""
    return PUBLIC if not actor.is_editor else (actor.role, actor.agency)


@dataclass(frozen=True)
class Lifetime:
    """How long an answer is true: to us (`expires_at`) and to those it was given to (`max_age_until`)."""

    built_at: datetime
    changed_at: datetime | None      # the last change of this content the asker could see (None: none known)
    expires_at: datetime | None      # the first instant at which it may change, hidden drafts included
    max_age_until: datetime | None   # the first such instant the audience may know of (max-age)


def lifetime(snapshot: Snapshot, entries: Iterable[Entry], actor: Actor, now: datetime, *,
             at: datetime | None = None, also: Iterable[datetime | None] = ()) -> Lifetime:
    """Until when an answer built from `entries` (drafts among them included) keeps its look, and since when.

    The one statement of it, in one pass over the entries. With `at` None the answer shows statuses now and
    moves with each status change; with a fixed `at` only publications move it. `also` adds moments of the
    format's own (a horizon sliding). We keep the answer until the first change among all `entries`; clients
    are told (max-age) of changes among what `actor` may see only, as counting a hidden draft's publication
    would tell it exists. Last-Modified is the last write `actor` may see, or a later publication or status
    change among what they see, never later than `now`.
    """
    moving = at is None
    ours = theirs = None
    changed = snapshot.last_write_for(actor)
    for entry in entries:
        published = entry.published_at
        moment = entry.status(now)[1] if moving else None
        if published is not None and published > now and (moment is None or published < moment):
            moment = published
        if moment is not None and (ours is None or moment < ours):
            ours = moment
        if not entry.visible(actor, now):
            continue
        if moment is not None and (theirs is None or moment < theirs):
            theirs = moment
        last = entry.last_event(at or now, now) if moving else (published if published is not None
                                                                  and published <= now else None)
        if last is not None and (changed is None or last > changed):
            changed = last
    extra = [m for m in also if m is not None]
    return Lifetime(now, None if changed is None else min(changed, now),
                    min((m for m in (ours, *extra) if m is not None), default=None),
                    min((m for m in (theirs, *extra) if m is not None), default=None))


@dataclass
class Answer:
    """One representation as built: its bytes, validators and lifetime; compressed copies join it once made."""

    body: bytes
    media_type: str
    etag: str
    life: Lifetime
    headers: tuple[tuple[str, str], ...] = ()
    vary: tuple[str, ...] = ()  # request headers the body depends on, besides Authorization and Accept-Encoding
    encoded: dict[str, bytes] = field(default_factory=dict)

    def holds(self, now: datetime) -> bool:
        """Whether the answer is still true at `now` (a clock moved back sees it as not yet built)."""
        life = self.life
        return life.built_at <= now and (life.expires_at is None or now < life.expires_at)

    def cost(self) -> int:
        """An estimate of the memory the answer holds."""
        return (len(self.body) + sum(len(b) for b in self.encoded.values()) + ANSWER_OVERHEAD
                + sum(len(k) + len(v) for k, v in self.headers))


def make_answer(body: bytes, media_type: str, life: Lifetime, *, version: int | None = None,
                headers: dict[str, str] | None = None, vary: tuple[str, ...] = ()) -> Answer:
    """An answer tagged with a strong ETag: the resource version, if any, and a digest of these bytes."""
    return Answer(body, media_type, etag_for(body, version), life, tuple((headers or {}).items()), vary)


def etag_for(body: bytes, version: int | None = None) -> str:
    """A strong ETag: the resource version (for If-Match) and a digest of these exact bytes."""
    digest = hashlib.sha256(body).hexdigest()[:16]
    return f'"{version}.{digest}"' if version is not None else f'"{digest}"'


def query_key(query: dict) -> tuple:
    """The parsed query in canonical order: queries that mean the same (limit=0010 and limit=10, parameters
    in another order, a bbox's numbers written differently, a status list reordered) get one key."""
    return tuple(sorted((name, repr(_canonical(value))) for name, value in query.items()))


def _canonical(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return tuple(sorted(value))
    if isinstance(value, (tuple, list)):
        return tuple(_canonical(v) for v in value)
    if isinstance(value, float):
        return value + 0.0  # -0.0 and 0.0 are one number
    return value  # an instant keeps its offset in its repr: answers echo `at` as it was written


@dataclass(frozen=True)
class Key:
    """What an answer is: a representation of the data at change `seq`, for a query and an audience."""

    representation: str
    seq: int
    query: tuple
    audience: tuple


@dataclass(frozen=True)
class Refused:
    """A query refused at a change sequence for the size of its answer, and when that was found."""

    error: TooLarge
    built_at: datetime


# What a kept refusal costs: the error, its message and the record.
REFUSAL_BYTES = 1024


class AnswerCache:
    """Every kept public answer, and which requests ask for which, within one byte budget.

    Answers go by `Key`; a newer change sequence makes new keys and the old answers age out. Requests
    (path, raw query string and the headers a representation varies on) point at a representation and
    query, so the WSGI layer finds an answer without parsing; these aliases take an eighth of the budget.
    The least recently used go first; an answer larger than its whole share is served but not kept.
    """

    ALIAS_SHARE = 8
    ALIAS_OVERHEAD = 256

    def __init__(self, budget: int):
        self.budget = int(budget)
        self._answers = ByteLru(self.budget - self.budget // self.ALIAS_SHARE)
        self._aliases = ByteLru(self.budget // self.ALIAS_SHARE)
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        return self._answers.used + self._aliases.used

    def __len__(self) -> int:
        """How many answers are kept (however many requests lead to them)."""
        return len(self._answers)

    def get(self, key: Key, now: datetime) -> Answer | None:
        """The answer kept for `key` if it still holds at `now`."""
        found = self._answers.get(key)
        return found if type(found) is Answer and found.holds(now) else None

    def get_or_build(self, key: Key, now: datetime, build: Callable[[], Answer]) -> Answer:
        """The answer kept for `key`, else `build()`'s, kept. A refusal (TooLarge with an `until`) is kept too,
        so asking again costs a lookup until then, not the work that found the answer too large."""
        found = self._answers.get(key)
        if type(found) is Refused and found.built_at <= now < found.error.until:
            raise found.error
        if type(found) is Answer and found.holds(now):
            return found
        try:
            found = build()
        except TooLarge as error:
            if error.until is not None:
                self._answers.put(key, Refused(error, now), REFUSAL_BYTES + len(repr(key)))
            raise
        self._answers.put(key, found, found.cost() + len(repr(key)))
        return found

    def encoded(self, key: Key, answer: Answer, coding: str, compress: Callable[[bytes], bytes]) -> bytes:
        """The answer's body in `coding`, compressed once and kept beside it."""
        if coding == "identity":
            return answer.body
        body = answer.encoded.get(coding)
        if body is None:
            body = compress(answer.body)
            with self._lock:
                answer.encoded[coding] = body
                if self._answers.get(key) is answer:  # re-priced with its new copy, if still kept
                    self._answers.put(key, answer, answer.cost() + len(repr(key)))
        return body

    def point(self, request: Hashable, representation: str, query: tuple) -> None:
        """Remember that `request` asks for `representation` with the parsed `query`."""
        cost = len(repr(request)) + len(repr(query)) + self.ALIAS_OVERHEAD
        self._aliases.put(request, (representation, query), cost)

    def find(self, request: Hashable, seq: Callable[[], int], now: datetime) -> tuple[Key, Answer] | None:
        """The public answer `request` asked for before, if it still holds at change `seq()` and instant `now`.

        `seq` is asked only for a request seen before: it may cost a round trip to the database.
        """
        pointed = self._aliases.get(request)
        if pointed is None:
            return None
        key = Key(pointed[0], seq(), pointed[1], PUBLIC)
        found = self.get(key, now)
        return None if found is None else (key, found)
