"""Drafts have no effect on anonymous answers (contract, "Drafts"; issue 10).

Two databases hold the same published closures; one also holds hidden drafts, saved, edited and deleted by
the bureau. Until a draft's publish_at, every anonymous answer is the same from both, byte for byte, with
the same ETag, Last-Modified and Cache-Control: lists (with a `road=` that matches only the draft, the
letter-by-letter attack), the WZDx, Waze and iCalendar feeds, OGC API items and collection, Open511
events, the change feed and the change-sequence metric. At publish_at the draft appears in all of them at
once, and the change feed numbers it next, without a gap.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from roadworks import create_app
from roadworks.api.bodies import load_closure, patched
from roadworks.auth import Actor
from roadworks.demo import load_demo
from roadworks.store.engine import make_engine, migrate

from tests.conftest import Clock, TEST_PUBLIC_URL

XINING = timezone(timedelta(hours=8))
ADMIN = Actor(name="bureau desk", role="admin")
PATHS = [
    "/api/v1/closures",
    "/api/v1/closures?road=草",  # matches the draft alone: its max-age used to tell when it publishes
    "/api/v1/closures?road=草稿路&status=all",
    "/api/v1/closures?status=all&at=2024-05-25T12:00:00%2B08:00",
    "/api/v1/closures?updated_since=2024-05-20T11:00:00%2B08:00&status=all",
    "/feeds/wzdx.geojson",
    "/feeds/wzdx.geojson?road=草",
    "/feeds/waze.json",
    "/feeds/closures.ics",
    "/feeds/closures.ics?road=草",
    "/ogc/collections/closures/items",
    "/ogc/collections/closures/items?datetime=2024-05-20T00:00:00Z/2024-06-30T00:00:00Z",
    "/ogc/collections/closures",
    "/open511/events",
    "/open511/events?road_name=草稿路",
    "/api/v1/changes",
    "/api/v1/changes?limit=2",
]
SEQUENCE = re.compile(r"^roadworks_change_sequence \S+$", re.M)
CLOSURE_COUNTS = re.compile(r"^roadworks_closures\{.*$", re.M)


def draft(id: str, publish: datetime, road: str = "草稿路") -> dict:
    """A closure on its own street, active from today, hidden until `publish`, parsed for the registry."""
    feature = {"type": "Feature", "id": id,
               "geometry": {"type": "LineString", "coordinates": [[101.7700, 36.6200], [101.7750, 36.6205]]},
               "properties": {"project": "dongguan-gas-2024", "road": road, "from": "甲路", "to": "乙路",
                              "schedule": {"windows": [{"start": "2024-05-20T12:05:00+08:00", "end": "2024-06-30"}],
                                           "hours": [{"days": ["mon", "tue", "wed", "thu", "fri"],
                                                      "start": "22:00", "end": "06:00"}]},
                              "publish_at": publish.astimezone(XINING).isoformat()}}
    return load_closure(feature)


class City:
    """One app on its own SQLite database, with the founding case loaded at the clock's start."""

    def __init__(self, path, clock: Clock):
        url = f"sqlite:///{path}"
        engine = make_engine(url)
        migrate(engine)
        engine.dispose()
        self.app = create_app({"DATABASE_URL": url, "MIGRATE": False, "CLOCK": clock, "PUBLIC_URL": TEST_PUBLIC_URL,
                               "RATE_LIMIT": "100000 per minute"})
        self.app.config["TESTING"] = True
        self.services = self.app.extensions["roadworks"]
        assert load_demo(self.services.registry)
        self.client = self.app.test_client()

    def answers(self) -> dict:
        """Every anonymous answer that could show a draft, as a client and a cache see it."""
        seen = {}
        for path in PATHS:
            response = self.client.get(path)
            assert response.status_code == 200, (path, response.get_data(as_text=True))
            seen[path] = {"body": response.get_data(), **{h: response.headers.get(h) for h in (
                "ETag", "Last-Modified", "Cache-Control")}}
        metrics = self.client.get("/metrics").get_data(as_text=True)
        seen["metrics"] = SEQUENCE.findall(metrics) + CLOSURE_COUNTS.findall(metrics)
        return seen

    def close(self):
        self.services.store.engine.dispose()


@pytest.fixture
def cities(tmp_path):
    clock = Clock(datetime(2024, 5, 20, 4, 0, tzinfo=timezone.utc))  # 12:00 in Xining
    plain, drafted = City(tmp_path / "plain.sqlite3", clock), City(tmp_path / "drafted.sqlite3", clock)
    clock.advance(minutes=10)
    yield plain, drafted, clock
    plain.close()
    drafted.close()


def assert_same(plain: City, drafted: City) -> dict:
    before, after = plain.answers(), drafted.answers()
    for key in before:
        assert after[key] == before[key], key
    return before


def test_hidden_drafts_change_no_anonymous_answer_until_published(cities):
    plain, drafted, clock = cities
    publish = clock.now + timedelta(seconds=25)  # inside the minute: max-age used to end here
    registry = drafted.services.registry

    first = assert_same(plain, drafted)
    registry.create_closure(draft("secret", publish), ADMIN)
    same = assert_same(plain, drafted)
    assert same == first  # and the draft's save moved nothing of what anyone could read
    assert first["/api/v1/closures?road=草"]["Cache-Control"] == "public, max-age=60"
    assert first["/api/v1/closures"]["Last-Modified"] == "Mon, 20 May 2024 04:00:00 GMT"  # the last public write

    clock.advance(seconds=5)
    registry.edit_closure("secret", patched(load_closure, {"properties": {"detour": "绕行南路"}}), ADMIN, None)
    registry.create_closure(draft("gone", clock.now + timedelta(days=3), road="草场街"), ADMIN)
    registry.delete_closure("gone", ADMIN, None)  # a draft deleted unpublished: never public
    registry.create_closure(draft("later", clock.now + timedelta(days=2), road="草场街"), ADMIN)
    assert_same(plain, drafted)
    clock.advance(seconds=19, microseconds=999_999)
    just_before = assert_same(plain, drafted)
    assert just_before["/feeds/wzdx.geojson?road=草"]["Cache-Control"] == "public, max-age=35"

    clock.advance(microseconds=1)  # publish_at: the draft shows in every answer that matches it, at once
    assert "secret" in ids(drafted.client.get("/api/v1/closures?road=草"))
    assert "secret" not in ids(plain.client.get("/api/v1/closures?road=草"))
    for path in ("/feeds/wzdx.geojson?road=草", "/feeds/waze.json", "/feeds/closures.ics?road=草",
                 "/ogc/collections/closures/items", "/open511/events?road_name=草稿路"):
        assert b"secret" in drafted.client.get(path).get_data(), path
    assert b"secret" not in drafted.client.get("/api/v1/closures?road=草场").get_data()  # "later" stays hidden


def test_the_change_feed_numbers_a_publication_next_and_the_metric_follows(cities):
    plain, drafted, clock = cities
    registry = drafted.services.registry
    registry.create_closure(draft("secret", clock.now + timedelta(hours=1)), ADMIN)
    feed = drafted.client.get("/api/v1/changes").json["changes"]
    assert [c["seq"] for c in feed] == list(range(1, len(feed) + 1))
    assert feed == plain.client.get("/api/v1/changes").json["changes"]

    clock.advance(minutes=30)
    registry.create_closure(draft("plain-write", clock.now - timedelta(minutes=1), road="明路"), ADMIN)
    clock.advance(hours=1)
    after = drafted.client.get("/api/v1/changes").json["changes"]
    assert [c["seq"] for c in after] == list(range(1, len(feed) + 3))
    assert [(c["id"], c["action"]) for c in after[len(feed):]] == [("plain-write", "create"), ("secret", "update")]
    assert after[-1]["at"] == "2024-05-20T13:10:00+08:00"  # its publication
    metrics = drafted.client.get("/metrics").get_data(as_text=True)
    assert SEQUENCE.findall(metrics) == [f"roadworks_change_sequence {float(len(feed) + 2)}"]


def test_a_publication_is_numbered_at_its_instant_even_before_anyone_reads_the_feed(cities):
    plain, drafted, clock = cities
    drafted.services.registry.create_closure(draft("secret", clock.now + timedelta(minutes=5)), ADMIN)
    store = drafted.services.store
    before = store.public_sequence()
    assert store.public_sequence(clock.now) == before
    clock.advance(minutes=5)
    assert store.public_sequence(clock.now) == before + 1  # what the metric shows, with nothing numbered yet
    assert store.public_sequence() == before
    assert store.publish_due(clock.now) == 1 and store.publish_due(clock.now) == 0  # idempotent
    assert store.public_sequence() == before + 1


def ids(response) -> list[str]:
    return [f["id"] for f in response.json["features"]]
