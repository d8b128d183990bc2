"""WZDx 4.2 Work Zone Feed: valid against the official schemas (offline), plus the rules they cannot check."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta

import pytest
from jsonschema import Draft7Validator
from referencing import Registry, Resource

from roadworks.api.bodies import load_project
from roadworks.auth import Actor
from roadworks.feeds import FragmentMemo, Horizon, dumps, encode
from roadworks.config import DEFAULTS
from roadworks.documents import closure_doc
from roadworks.domain.model import Closure
from roadworks.domain.schedule import Hours, Schedule, Span
from roadworks.feeds.wzdx import cardinal, work_zone_feed

FEED_ID = "https://raw.githubusercontent.com/usdot-jpo-ode/wzdx/main/schemas/4.2/WorkZoneFeed.json"
ADMIN = Actor(name="t", role="admin")
MAY_20 = datetime(2024, 5, 20, 4, 0, tzinfo=UTC)
AUG_20 = datetime(2024, 8, 20, 4, 0, tzinfo=UTC)
LEDU, MOSQUE, GONGHE = [101.7905, 36.6116], [101.7947, 36.6114], [101.7975, 36.6113]
GONGHE_ID = "dongguan-ledu-gonghe"
NANXIAO_ID, YANGJIA_ID = "dongguan-ledu-nanxiao", "dongguan-yangjia-jianguo"
FEED_CAP = DEFAULTS["FEED_MAX_EVENTS_PER_CLOSURE"]
MAX_EVENTS_DEFAULT = FEED_CAP


@pytest.fixture(scope="module")
def validator(anchors) -> Draft7Validator:
    """The official WorkZoneFeed schema with every $ref resolved from the local copies, never the network."""
    docs = [json.loads(p.read_text("utf-8")) for p in sorted(anchors("wzdx").rglob("*.json"))]
    # from_contents picks the specification from each file's $schema (draft 7 throughout).
    registry = Registry().with_resources((d["$id"], Resource.from_contents(d)) for d in docs)
    root = registry.contents(FEED_ID)
    assert root["$schema"] == "http://json-schema.org/draft-07/schema#"
    return Draft7Validator(root, registry=registry, format_checker=Draft7Validator.FORMAT_CHECKER)


def feed(services, now: datetime, **options) -> dict:
    entries = services.index.snapshot().entries()
    return work_zone_feed(entries, now, Horizon(), publisher="西宁市城乡建设局",
                          contact=options.pop("contact", "12345 政务服务便民热线"), **options)


def assert_valid(validator: Draft7Validator, doc: dict) -> None:
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


def check_rules(doc: dict) -> None:
    """What the schema cannot check."""
    events = doc["features"]
    ids = [e["id"] for e in events]
    assert all(isinstance(i, str) and i for i in ids) and len(set(ids)) == len(ids)
    sources = {s["data_source_id"] for s in doc["feed_info"]["data_sources"]}
    assert_utc(doc["feed_info"]["update_date"])
    for event in events:
        props, core = event["properties"], event["properties"]["core_details"]
        assert core["data_source_id"] in sources
        for value in (props["start_date"], props["end_date"], core.get("creation_date"), core.get("update_date")):
            if value is not None:
                assert_utc(value)
        assert parse(props["start_date"]) < parse(props["end_date"])
        assert event["geometry"]["type"] == "LineString"
        for lon, lat in event["geometry"]["coordinates"]:
            assert -180 <= lon <= 180 and -90 <= lat <= 90
        for link in core.get("related_road_events", []):
            assert link["id"] in ids, link


def assert_utc(value: str) -> None:
    assert value.endswith("Z"), value
    assert parse(value).utcoffset() == timedelta(0)


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


def events_of(doc: dict, closure_id: str) -> list[dict]:
    return [e for e in doc["features"] if e["id"].startswith(closure_id + ":")]


def links(event: dict) -> dict[str, str]:
    return {r["type"]: r["id"] for r in event["properties"]["core_details"].get("related_road_events", [])}


# ---------------------------------------------------------------------------- schema

@pytest.mark.parametrize("now", [MAY_20, AUG_20, datetime(2024, 9, 15, 2, tzinfo=UTC)])
def test_demo_feed_is_valid_wzdx(demo, validator, now):
    doc = feed(demo, now)
    assert doc["features"]
    assert_valid(validator, doc)
    check_rules(doc)


def test_the_validator_checks_formats_and_refs(demo, validator):
    """A guard that the offline registry and format checking are really on: broken feeds fail."""
    doc = feed(demo, MAY_20)
    bad_date = json.loads(json.dumps(doc))
    bad_date["features"][0]["properties"]["start_date"] = "31 May 2024"
    assert not validator.is_valid(bad_date)
    bad_direction = json.loads(json.dumps(doc))
    bad_direction["features"][0]["properties"]["core_details"]["direction"] = "forward"
    assert not validator.is_valid(bad_direction)
    bad_geometry = json.loads(json.dumps(doc))
    bad_geometry["features"][0]["geometry"]["type"] = "MultiLineString"
    assert not validator.is_valid(bad_geometry)


def test_added_closures_keep_the_feed_valid(demo, validator, closure_body, add_closure):
    add_closure("pause-spanning", schedule={"windows": [{"start": "2024-05-01", "end": "2024-09-30"}]})
    add_closure("two-parts", geometry={"type": "MultiLineString",
                                                      "coordinates": [[LEDU, MOSQUE], [[101.7950, 36.6114], GONGHE]]})
    for impact in ("lanes-closed", "alternating", "restricted"):
        add_closure(f"impact-{impact}", impact=impact, direction="forward")
    doc = feed(demo, MAY_20, contact="desk@example.org")
    assert_valid(validator, doc)
    check_rules(doc)


# ---------------------------------------------------------------------------- rules

def test_empty_feed_still_lists_a_data_source(services):
    doc = feed(services, MAY_20)
    assert doc["features"] == []
    assert doc["feed_info"]["data_sources"]
    check_rules(doc)


def test_feed_info(demo):
    doc = feed(demo, MAY_20, update_frequency=300)
    info = doc["feed_info"]
    assert info["publisher"] == "西宁市城乡建设局"
    assert info["contact_name"] == "12345 政务服务便民热线" and "contact_email" not in info
    assert info["update_frequency"] == 300
    assert info["update_date"] == "2024-05-20T04:00:00Z"
    assert info["version"] == "4.2"
    assert info["license"] == "https://creativecommons.org/publicdomain/zero/1.0/"
    assert [s["data_source_id"] for s in info["data_sources"]] == ["dongguan-gas-2024"]
    assert feed(demo, MAY_20, contact="desk@example.org")["feed_info"]["contact_email"] == "desk@example.org"


def test_demo_events_at_may_20(demo):
    doc = feed(demo, MAY_20)
    assert len(doc["features"]) == 6  # three closures, each both ways
    assert all(e["properties"]["vehicle_impact"] == "all-lanes-closed" for e in doc["features"])
    assert all(e["properties"]["core_details"]["road_names"] == ["东关大街"] for e in doc["features"])


def test_reopened_early_has_a_verified_end(demo):
    forward, backward = events_of(feed(demo, MAY_20), "dongguan-ledu-gonghe")
    for event in (forward, backward):
        props = event["properties"]
        assert props["start_date"] == "2024-04-11T16:00:00Z" and props["is_start_date_verified"] is True
        assert props["end_date"] == "2024-05-30T16:00:00Z" and props["is_end_date_verified"] is True
        assert "提前5天" in props["core_details"]["description"]
        assert "请绕行" in props["core_details"]["description"]  # the detour travels in the description


def test_reopened_closure_leaves_the_feed_once_past_the_horizon(demo):
    assert events_of(feed(demo, AUG_20), "dongguan-ledu-gonghe") == []


def test_open_ended_closure_ends_at_the_horizon(demo):
    for now, end in ((MAY_20, "2024-11-16T00:00:00Z"), (AUG_20, "2025-02-16T00:00:00Z")):
        events = events_of(feed(demo, now), "dongguan-yangjia-jianguo")
        assert len(events) == 2
        for event in events:
            props = event["properties"]
            assert props["start_date"] == "2024-08-31T16:00:00Z" and props["end_date"] == end
            assert props["is_start_date_verified"] is False and props["is_end_date_verified"] is False


def test_both_directions_give_two_events_with_reversed_geometry(demo):
    forward, backward = events_of(feed(demo, MAY_20), "dongguan-ledu-gonghe")
    assert forward["geometry"]["coordinates"] == [LEDU, MOSQUE, GONGHE]
    assert backward["geometry"]["coordinates"] == [GONGHE, MOSQUE, LEDU]
    assert forward["properties"]["core_details"]["direction"] == "eastbound"
    assert backward["properties"]["core_details"]["direction"] == "westbound"
    assert forward["properties"]["beginning_cross_street"] == "乐都路" == backward["properties"]["ending_cross_street"]
    assert forward["properties"]["ending_cross_street"] == "共和路" == backward["properties"]["beginning_cross_street"]


def test_forward_and_backward_give_one_event_each(services, project_body, closure_body, add_closure):
    services.registry.create_project(load_project(project_body), ADMIN)
    add_closure("fwd", direction="forward")
    add_closure("bwd", direction="backward")
    doc = feed(services, MAY_20)
    (fwd,), (bwd,) = events_of(doc, "fwd"), events_of(doc, "bwd")
    assert fwd["geometry"]["coordinates"] == closure_body()["geometry"]["coordinates"]
    assert bwd["geometry"]["coordinates"] == closure_body()["geometry"]["coordinates"][::-1]
    assert (fwd["properties"]["core_details"]["direction"], bwd["properties"]["core_details"]["direction"]) \
        == ("eastbound", "westbound")


def test_cardinal_directions():
    assert cardinal([[0, 0], [0, 1]]) == "northbound"
    assert cardinal([[0, 0], [1, 0.2]]) == "eastbound"
    assert cardinal([[0, 1], [0.1, 0]]) == "southbound"
    assert cardinal([[1, 0], [0, 0.3]]) == "westbound"


def test_a_window_across_the_project_pause_gives_linked_occurrences(demo, closure_body, add_closure):
    add_closure("pause-spanning", direction="forward",
           schedule={"windows": [{"start": "2024-05-01", "end": "2024-09-30"}]})
    doc = feed(demo, MAY_20)
    first, second = events_of(doc, "pause-spanning")
    assert (first["properties"]["start_date"], first["properties"]["end_date"]) \
        == ("2024-04-30T16:00:00Z", "2024-05-31T16:00:00Z")
    assert (second["properties"]["start_date"], second["properties"]["end_date"]) \
        == ("2024-08-31T16:00:00Z", "2024-09-30T16:00:00Z")
    assert links(first) == {"next-occurrence": second["id"]}
    assert links(second) == {"first-occurrence": first["id"]}
    check_rules(doc)


def test_multilinestring_gives_one_event_per_part_in_sequence(demo, closure_body, add_closure):
    second_part = [[101.7950, 36.6114], GONGHE]
    add_closure("two-parts", geometry={"type": "MultiLineString",
                                                      "coordinates": [[LEDU, MOSQUE], second_part]})
    doc = feed(demo, MAY_20)
    events = events_of(doc, "two-parts")
    assert len(events) == 4  # two parts, both ways
    a, b, c, d = events
    assert a["geometry"]["coordinates"] == [LEDU, MOSQUE] and b["geometry"]["coordinates"] == second_part
    assert links(a) == {"next-in-sequence": b["id"]} and links(b) == {"first-in-sequence": a["id"]}
    # Against the geometry, the second part is met first and run backwards.
    assert c["geometry"]["coordinates"] == second_part[::-1] and d["geometry"]["coordinates"] == [MOSQUE, LEDU]
    assert links(c) == {"next-in-sequence": d["id"]} and links(d) == {"first-in-sequence": c["id"]}
    assert "beginning_cross_street" in a["properties"] and "ending_cross_street" not in a["properties"]
    assert "ending_cross_street" in b["properties"] and "beginning_cross_street" not in b["properties"]
    check_rules(doc)


def test_ids_are_stable_across_requests_and_the_moving_horizon(demo):
    first, again = feed(demo, MAY_20), feed(demo, MAY_20)
    assert [e["id"] for e in first["features"]] == [e["id"] for e in again["features"]]
    assert first == again
    later = feed(demo, MAY_20 + timedelta(days=3))
    open_ended = events_of(first, "dongguan-ledu-nanxiao")
    moved = events_of(later, "dongguan-ledu-nanxiao")
    assert [e["id"] for e in open_ended] == [e["id"] for e in moved]
    assert open_ended[0]["properties"]["end_date"] != moved[0]["properties"]["end_date"]


@pytest.mark.parametrize("impact, expected", [("closed", "all-lanes-closed"), ("lanes-closed", "some-lanes-closed"),
                                              ("alternating", "alternating-one-way"),
                                              ("restricted", "all-lanes-open")])
def test_impact_maps_to_vehicle_impact(services, project_body, closure_body, impact, expected, add_closure):
    services.registry.create_project(load_project(project_body), ADMIN)
    add_closure("c1", impact=impact, direction="forward")
    (event,) = feed(services, MAY_20)["features"]
    assert event["properties"]["vehicle_impact"] == expected


def test_drafts_and_cancelled_closures_are_left_out(demo, closure_body, add_closure):
    add_closure("draft", publish_at="2024-06-01")
    add_closure("called-off", cancelled=True)
    doc = feed(demo, MAY_20)
    assert events_of(doc, "draft") == [] and events_of(doc, "called-off") == []
    assert len(events_of(feed(demo, datetime(2024, 6, 2, tzinfo=UTC)), "draft")) == 2


# ---------------------------------------------------------------------------- rendered once per version

def entries(services) -> list:
    return list(services.index.snapshot().entries())


def memoised(entries: list, now: datetime, memo, crs: str = "wgs84") -> bytes:
    return encode(work_zone_feed(entries, now, Horizon(), publisher="p", contact=None, memo=memo, crs=crs))


def fresh(entries: list, now: datetime) -> bytes:
    return dumps(work_zone_feed(entries, now, Horizon(), publisher="p", contact=None))


def test_memoised_feed_is_byte_identical_at_every_instant_and_across_midnight(demo, monkeypatch):
    from roadworks.feeds import wzdx

    memo, rendered = FragmentMemo(), []
    real = wzdx._serialised
    monkeypatch.setattr(wzdx, "_serialised", lambda e, *a: rendered.append(e.id) or real(e, *a))
    before_midnight = datetime(2024, 8, 20, 23, 59, 59, tzinfo=UTC)
    every = {GONGHE_ID, NANXIAO_ID, YANGJIA_ID}
    for now, again in ((MAY_20, every), (MAY_20 + timedelta(hours=1), set()),
                       # Gonghe left the horizon; the two open until further notice end at its end.
                       (before_midnight, every), (before_midnight + timedelta(seconds=1), every - {GONGHE_ID})):
        rendered.clear()
        assert memoised(entries(demo), now, memo) == fresh(entries(demo), now)
        assert sorted(rendered) == sorted(again)
    assert len(memo) == 3  # one version per closure: the parts of other periods were dropped


def test_memoised_feed_is_byte_identical_in_gcj02(demo):
    from roadworks.feeds import in_crs

    memo = FragmentMemo()
    moved = in_crs(entries(demo), "gcj02")
    for _ in range(2):
        assert memoised(in_crs(entries(demo), "gcj02", memo), AUG_20, memo, "gcj02") == fresh(moved, AUG_20)
    assert memoised(entries(demo), AUG_20, memo) == fresh(entries(demo), AUG_20) != fresh(moved, AUG_20)


# ---------------------------------------------------------------------------- the feed cap

NIGHTS = (Hours(frozenset(range(7)), time(22), time(6)),)


def inject(services, id: str, parts: int, schedule: Schedule, direction: str = "both") -> None:
    """A closure written straight into the store, past any check (as if saved before the cap existed)."""
    geometry = {"type": "MultiLineString", "coordinates": [
        [[101.70 + k * 0.0003, 36.60 + 0.0001 * (k % 5)], [101.7002 + k * 0.0003, 36.6001 + 0.0001 * (k % 5)]]
        for k in range(parts)]}
    doc = closure_doc(Closure(id=id, project="dongguan-gas-2024", geometry=geometry, schedule=schedule,
                              road="攻击路", direction=direction))
    lons = [p[0] for line in geometry["coordinates"] for p in line]
    lats = [p[1] for line in geometry["coordinates"] for p in line]
    with services.store.writing() as w:
        w.save("closure", id, doc, columns={"project_id": "dongguan-gas-2024", "road": "攻击路", "length_m": 1.0,
                                            "min_lon": min(lons), "min_lat": min(lats), "max_lon": max(lons),
                                            "max_lat": max(lats)},
               now=MAY_20, actor="test", action="create", changes={})
    services.index.rebuild()


def test_a_closure_stored_past_the_cap_is_cut_at_it_and_the_feed_stays_valid(demo, validator, caplog):
    # 400 parts both ways, every night of the horizon: 168,000 events uncapped.
    inject(demo, "flood", 400, Schedule((Span(date(2024, 1, 1), date(2199, 12, 31)),), (), NIGHTS))
    memo = FragmentMemo()
    for now in (MAY_20, MAY_20 + timedelta(hours=1)):
        doc = json.loads(encode(feed(demo, now, memo=memo, max_events=1000)))
        flood = events_of(doc, "flood")
        # 1000 // (2 ways x 400 parts) = 1 period: 800 events, never more than the cap.
        assert len(flood) == 800
        assert {e["properties"]["start_date"] for e in flood} == {"2024-05-20T14:00:00Z"}  # tonight, not a month ago
        assert len(events_of(doc, GONGHE_ID)) == 2  # the others are untouched
        assert_valid(validator, doc)
        check_rules(doc)
    warnings = [r for r in caplog.records if "FEED_MAX_EVENTS_PER_CLOSURE" in r.getMessage()]
    assert len(warnings) == 1 and "flood" in warnings[0].getMessage()


def test_a_line_with_more_parts_than_the_cap_keeps_its_first_parts(demo, validator):
    inject(demo, "wide", 400, Schedule((Span(date(2024, 5, 1), date(2024, 5, 31)),)))
    doc = feed(demo, MAY_20, max_events=101)
    wide = events_of(doc, "wide")
    assert len(wide) == 100  # one period, 50 parts each way
    assert {int(e["id"].rsplit(":", 1)[1]) for e in wide} == set(range(50))
    assert_valid(validator, doc)
    check_rules(doc)


def test_the_default_cap_bounds_the_400_part_attack(demo):
    inject(demo, "flood", 400, Schedule((Span(date(2024, 1, 1), date(2199, 12, 31)),), (), NIGHTS))
    assert len(events_of(feed(demo, MAY_20), "flood")) == FEED_CAP // 800 * 800 <= FEED_CAP


def test_parts_put_together_from_members_are_what_dumps_writes_for_random_closures():
    import random
    from dataclasses import replace

    from bench.synthetic import PROJECTS, closures
    from roadworks.feeds import wzdx
    from roadworks.index import make_entry

    rng = random.Random(42)
    pieces = ["a", " ", '"', "\\", "\n", "\t", "\x01", "/", "é", "东关", "🚧", "\u2028"]
    projects = {p.id: p for p in PROJECTS}

    def text(longest: int) -> str | None:
        return rng.choice((None, "".join(rng.choice(pieces) for _ in range(rng.randint(1, longest)))))

    checked = 0
    for closure in closures(400, seed=3):
        line = closure.geometry["coordinates"]
        if rng.random() < 0.4 and len(line) >= 4:  # a MultiLineString of two or three parts
            spots = range(2, len(line) - 1, 2)
            cuts = sorted(rng.sample(spots, min(rng.randint(1, 2), len(spots))))
            line = [line[a:b] for a, b in zip([0, *cuts], [*cuts, len(line)])]
            closure = replace(closure, geometry={"type": "MultiLineString", "coordinates": line})
        windows = closure.schedule.windows
        actuals = {}
        if rng.random() < 0.3:
            actuals["actual_start"] = windows[0].start
        if rng.random() < 0.3 and windows[-1].end is not None:
            actuals["actual_end"] = windows[-1].end
        stamps = {"created_at": datetime(2024, 3, 1, 8, 30, 15, tzinfo=UTC),
                  "updated_at": datetime(2024, 3, 2, 23, 59, 59, tzinfo=UTC)} if rng.random() < 0.5 else {}
        closure = replace(closure, id=closure.id + rng.choice(("", '"q"', "\\", "东")),
                          direction=rng.choice(("both", "forward", "backward")), road=text(10) or "r",
                          from_=text(6), to=text(6), description=text(30), detour=text(20),
                          impact=rng.choice(("closed", "lanes-closed", "alternating", "restricted")),
                          **actuals, **stamps)
        entry = make_entry(closure, replace(projects[closure.project], id=text(5) or "p", agency=text(5) or "a"))
        now = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=rng.randint(0, 1000))
        for cap in (MAX_EVENTS_DEFAULT, 7):
            key = wzdx._shown(entry, now, Horizon(), cap)
            assert wzdx._serialised(entry, *key) == dumps(wzdx.closure_events(entry, now, Horizon(), cap))[1:-1]
            checked += bool(key[0])
    assert checked > 100
