"""Tests of roadworks.registry used directly, without HTTP, given values parsed as the bureau parses them.

merge_patch (roadworks.api.bodies) against the examples of RFC 7386, diff(), and the registry's use cases
with roadworks.auth.Actor values: Forbidden, Unauthenticated, StaleVersion, NotFound, Conflict and
ValidationFailed, each leaving the store as it was; drafts' visibility; the after-write hook.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from roadworks.api.bodies import load_closure, load_features, load_project, merge_patch, patched
from roadworks.auth import ANONYMOUS, Actor, Forbidden, Unauthenticated
from roadworks.domain.errors import Conflict, NotFound, ValidationFailed
from roadworks.registry import StaleVersion, diff

AGENCY = "西宁市城乡建设局"
OTHER_AGENCY = "西宁市公安局交通警察支队"
PROJECT = "dongguan-gas-2024"

EDITOR = Actor(name="Construction bureau desk", role="editor", agency=AGENCY)
OTHER = Actor(name="Traffic police desk", role="editor", agency=OTHER_AGENCY)
ADMIN = Actor(name="City admin", role="admin")
PARTNER = Actor(name="Taxi partner", role="partner")


@pytest.fixture
def registry(services):
    return services.registry


def closure_patch(patch):
    """A PATCH body as the bureau hands it to the registry: merged into the stored document, then loaded."""
    return patched(load_closure, patch)


def project_patch(patch):
    return patched(load_project, patch)


def collection(*features) -> list:
    return load_features({"type": "FeatureCollection", "features": list(features)})


@pytest.fixture
def seq(services):
    return services.store.sequence


@pytest.fixture
def made_project(registry, project_body):
    return registry.create_project(load_project(project_body), EDITOR)


@pytest.fixture
def made_closure(registry, made_project, closure_body):
    return registry.create_closure(load_closure(closure_body("c1")), EDITOR)


# ---------------------------------------------------------------------- merge_patch (RFC 7386)

RFC_7386_APPENDIX_A = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "patch", "result"), RFC_7386_APPENDIX_A)
def test_merge_patch_matches_rfc_7386_appendix_a(target, patch, result):
    assert merge_patch(target, patch) == result


def test_merge_patch_matches_rfc_7386_section_3_example():
    target = {"title": "Goodbye!", "author": {"givenName": "John", "familyName": "Doe"},
              "tags": ["example", "sample"], "content": "This will be unchanged"}
    patch = {"title": "Hello!", "phoneNumber": "+01-123-456-7890", "author": {"familyName": None},
             "tags": ["example"]}
    assert merge_patch(target, patch) == {
        "title": "Hello!", "author": {"givenName": "John"}, "tags": ["example"],
        "content": "This will be unchanged", "phoneNumber": "+01-123-456-7890"}


def test_merge_patch_leaves_its_inputs_alone():
    target = {"a": {"b": "c", "d": ["e"]}, "f": 1}
    patch = {"a": {"b": None, "x": {"y": 1}}, "f": None}
    target_copy, patch_copy = copy.deepcopy(target), copy.deepcopy(patch)
    assert merge_patch(target, patch) == {"a": {"d": ["e"], "x": {"y": 1}}}
    assert target == target_copy and patch == patch_copy


def test_empty_merge_patch_changes_nothing():
    target = {"a": {"b": 1}, "c": [1, 2]}
    assert merge_patch(target, {}) == target


# ---------------------------------------------------------------------- diff

def test_diff_from_nothing_lists_every_member_from_none():
    assert diff({}, {"name": "x", "pauses": []}) == {"name": {"from": None, "to": "x"},
                                                      "pauses": {"from": None, "to": []}}


def test_diff_omits_unchanged_members():
    doc = {"a": 1, "b": [1, 2], "c": {"d": 1}}
    assert diff(doc, copy.deepcopy(doc)) == {}
    assert diff(doc, dict(doc, a=2)) == {"a": {"from": 1, "to": 2}}


def test_diff_reports_removed_and_added_members():
    assert diff({"a": 1, "b": 2}, {"b": 2, "c": 3}) == {"a": {"from": 1, "to": None},
                                                        "c": {"from": None, "to": 3}}


def test_diff_goes_into_properties_by_path():
    old = {"type": "Feature", "properties": {"road": "A", "from": "x", "schedule": {"windows": [1]}}}
    new = {"type": "Feature", "properties": {"road": "B", "to": "y", "schedule": {"windows": [1]}}}
    assert diff(old, new) == {"properties.road": {"from": "A", "to": "B"},
                              "properties.from": {"from": "x", "to": None},
                              "properties.to": {"from": None, "to": "y"}}


def test_diff_compares_other_objects_and_lists_whole():
    old = {"geometry": {"type": "LineString", "coordinates": [[1, 2], [3, 4]]}, "tags": [1, 2]}
    new = {"geometry": {"type": "LineString", "coordinates": [[1, 2], [3, 5]]}, "tags": [2, 1]}
    assert diff(old, new) == {"geometry": {"from": old["geometry"], "to": new["geometry"]},
                              "tags": {"from": [1, 2], "to": [2, 1]}}


# ---------------------------------------------------------------------- projects

def test_create_project_stores_version_one_with_history(registry, services, project_body, seq):
    before = seq()
    project = registry.create_project(load_project(project_body), EDITOR)
    assert (project.id, project.agency, project.version) == (PROJECT, AGENCY, 1)
    assert project.created_at == datetime(2024, 5, 20, 4, 0, tzinfo=UTC)
    assert seq() == before + 1
    assert registry.project(PROJECT).name == project_body["name"]
    rows = services.store.history("project", PROJECT)
    assert [(r["version"], r["action"], r["actor"]) for r in rows] == [(1, "create", EDITOR.name)]
    assert rows[0]["changes"]["agency"] == {"from": None, "to": AGENCY}


def test_create_project_for_another_agency_is_forbidden(registry, project_body, snapshot):
    before = snapshot()
    with pytest.raises(Forbidden):
        registry.create_project(load_project(dict(project_body, agency=OTHER_AGENCY)), EDITOR)
    assert snapshot() == before


@pytest.mark.parametrize("who", [ANONYMOUS, PARTNER], ids=["anonymous", "partner"])
def test_writes_need_an_editor_or_admin(registry, project_body, snapshot, who):
    before = snapshot()
    with pytest.raises(Unauthenticated):
        registry.create_project(load_project(project_body), who)
    assert snapshot() == before


def test_admin_may_create_a_project_for_any_agency(registry, project_body):
    created = registry.create_project(load_project(dict(project_body, agency=OTHER_AGENCY)), ADMIN)
    assert created.agency == OTHER_AGENCY


def test_create_project_twice_is_a_conflict_not_a_stale_version(registry, made_project, project_body, snapshot):
    before = snapshot()
    with pytest.raises(Conflict) as info:
        registry.create_project(load_project(project_body), EDITOR)
    assert not isinstance(info.value, StaleVersion)
    assert snapshot() == before


def test_stale_version_is_a_conflict():
    assert issubclass(StaleVersion, Conflict)


def test_replace_project_with_stale_version_raises_stale_version(registry, made_project, project_body, snapshot):
    before = snapshot()
    with pytest.raises(StaleVersion):
        registry.replace_project(PROJECT, load_project(dict(project_body, name="新名")), EDITOR, version=2)
    assert snapshot() == before


def test_replace_project_with_current_or_no_version_succeeds(registry, made_project, project_body):
    second = registry.replace_project(PROJECT, load_project(dict(project_body, name="二")), EDITOR, version=1)
    third = registry.replace_project(PROJECT, load_project(dict(project_body, name="三")), EDITOR, version=None)
    assert (second.version, third.version, registry.project(PROJECT).name) == (2, 3, "三")


def test_patch_project_applies_a_merge_patch(registry, made_project):
    edited = registry.edit_project(PROJECT, project_patch({"contact": None, "description": "二期"}), EDITOR, version=1)
    assert edited.contact is None and edited.description == "二期"
    assert edited.name == made_project.name and edited.pauses == made_project.pauses


def test_project_writes_by_another_agency_are_forbidden(registry, made_project, project_body, snapshot):
    before = snapshot()
    with pytest.raises(Forbidden):
        registry.replace_project(PROJECT, load_project(project_body), OTHER, version=1)
    with pytest.raises(Forbidden):
        registry.edit_project(PROJECT, project_patch({"name": "x"}), OTHER, version=1)
    with pytest.raises(Forbidden):
        registry.delete_project(PROJECT, OTHER, version=1)
    with pytest.raises(Forbidden):
        registry.edit_project(PROJECT, project_patch({"agency": OTHER_AGENCY}), EDITOR, version=1)
    assert snapshot() == before


def test_project_use_cases_raise_not_found_for_unknown_ids(registry, project_body):
    with pytest.raises(NotFound):
        registry.project("nope")
    with pytest.raises(NotFound):
        registry.replace_project("nope", load_project(project_body), EDITOR, version=1)
    with pytest.raises(NotFound):
        registry.edit_project("nope", project_patch({"name": "x"}), EDITOR, version=1)
    with pytest.raises(NotFound):
        registry.delete_project("nope", EDITOR, version=1)


def test_invalid_project_body_raises_validation_failed_by_path(project_body):
    body = dict(project_body, colour="red")
    del body["name"]
    with pytest.raises(ValidationFailed) as info:
        load_project(body)
    assert set(info.value.errors) == {"name", "colour"}


def test_the_registry_itself_refuses_a_project_in_an_unknown_zone(registry, project_body, snapshot):
    before = snapshot()
    with pytest.raises(ValidationFailed) as info:
        registry.create_project(load_project(dict(project_body, timezone="Mars/Olympus")), EDITOR)
    assert list(info.value.errors) == ["timezone"]
    assert snapshot() == before


def test_delete_project_with_live_closures_is_a_conflict(registry, made_closure, snapshot):
    before = snapshot()
    with pytest.raises(Conflict) as info:
        registry.delete_project(PROJECT, EDITOR, version=1)
    assert not isinstance(info.value, StaleVersion)
    assert snapshot() == before


def test_delete_project_once_its_closures_are_deleted(registry, made_closure, seq):
    registry.delete_closure("c1", EDITOR, version=1)
    before = seq()
    registry.delete_project(PROJECT, EDITOR, version=1)
    assert seq() == before + 1
    with pytest.raises(NotFound):
        registry.project(PROJECT)
    assert registry.projects() == []


# ---------------------------------------------------------------------- closures

def test_create_closure_returns_a_view_with_its_project(registry, made_project, closure_body, seq):
    before = seq()
    view = registry.create_closure(load_closure(closure_body("c1", impact="alternating")), EDITOR)
    assert view.closure.id == "c1" and view.closure.version == 1
    assert view.closure.road == "东关大街" and view.closure.from_ == "乐都路"
    assert view.closure.impact == "alternating"
    assert view.project.id == PROJECT
    assert seq() == before + 1


def test_closure_of_another_agencys_project_is_forbidden(registry, made_project, closure_body, snapshot):
    before = snapshot()
    with pytest.raises(Forbidden):
        registry.create_closure(load_closure(closure_body("c1")), OTHER)
    assert snapshot() == before


def test_closure_writes_by_another_agency_are_forbidden(registry, made_closure, closure_body, snapshot):
    before = snapshot()
    with pytest.raises(Forbidden):
        registry.replace_closure("c1", load_closure(closure_body("c1")), OTHER, version=1)
    with pytest.raises(Forbidden):
        registry.edit_closure("c1", closure_patch({"properties": {"road": "x"}}), OTHER, version=1)
    with pytest.raises(Forbidden):
        registry.delete_closure("c1", OTHER, version=1)
    with pytest.raises(Forbidden):
        registry.reopen("c1", None, OTHER, version=None)
    assert snapshot() == before


def test_anonymous_closure_writes_are_unauthenticated(registry, made_closure, closure_body, snapshot):
    before = snapshot()
    with pytest.raises(Unauthenticated):
        registry.create_closure(load_closure(closure_body("c2")), ANONYMOUS)
    with pytest.raises(Unauthenticated):
        registry.edit_closure("c1", closure_patch({"properties": {"road": "x"}}), ANONYMOUS, version=1)
    with pytest.raises(Unauthenticated):
        registry.delete_closure("c1", ANONYMOUS, version=1)
    assert snapshot() == before


def test_closure_writes_with_stale_version_raise_stale_version(registry, made_closure, closure_body, snapshot):
    registry.edit_closure("c1", closure_patch({"properties": {"detour": "a"}}), EDITOR, version=1)
    before = snapshot()
    with pytest.raises(StaleVersion):
        registry.replace_closure("c1", load_closure(closure_body("c1")), EDITOR, version=1)
    with pytest.raises(StaleVersion):
        registry.edit_closure("c1", closure_patch({"properties": {"road": "x"}}), EDITOR, version=1)
    with pytest.raises(StaleVersion):
        registry.delete_closure("c1", EDITOR, version=1)
    with pytest.raises(StaleVersion):
        registry.reopen("c1", None, EDITOR, version=1)
    assert snapshot() == before


def test_closure_use_cases_raise_not_found_for_unknown_ids(registry, made_project, closure_body):
    with pytest.raises(NotFound):
        registry.closure("nope", EDITOR)
    with pytest.raises(NotFound):
        registry.replace_closure("nope", load_closure(closure_body("nope")), EDITOR, version=1)
    with pytest.raises(NotFound):
        registry.edit_closure("nope", closure_patch({"properties": {"road": "x"}}), EDITOR, version=1)
    with pytest.raises(NotFound):
        registry.delete_closure("nope", EDITOR, version=1)
    with pytest.raises(NotFound):
        registry.reopen("nope", None, EDITOR, version=None)


def test_create_closure_with_existing_id_is_a_conflict(registry, made_closure, closure_body, snapshot):
    before = snapshot()
    with pytest.raises(Conflict):
        registry.create_closure(load_closure(closure_body("c1")), EDITOR)
    assert snapshot() == before


def test_patch_closure_removes_null_members_and_keeps_the_rest(registry, made_closure):
    patch = {"properties": {"from": None, "detour": "走南关街"}}
    view = registry.edit_closure("c1", closure_patch(patch), EDITOR, version=1)
    assert view.closure.from_ is None and view.closure.detour == "走南关街"
    assert view.closure.to == "共和路" and view.closure.version == 2
    assert registry.closure("c1", ANONYMOUS).closure.detour == "走南关街"


def test_reopen_defaults_to_the_clock(registry, made_closure, clock):
    view = registry.reopen("c1", None, EDITOR, version=None)
    assert view.closure.actual_end == clock.now
    assert view.closure.timeline(view.project).status_at(clock.now) == "completed"


def test_delete_closure_hides_it_and_keeps_a_tombstone(registry, services, made_closure, seq):
    before = seq()
    registry.delete_closure("c1", EDITOR, version=1)
    assert seq() == before + 1
    with pytest.raises(NotFound):
        registry.closure("c1", ADMIN)
    assert services.store.get("closure", "c1", include_deleted=True).deleted_at is not None


def test_history_lists_every_version_with_actor_and_changes(registry, made_closure, clock):
    clock.advance(hours=1)
    registry.edit_closure("c1", closure_patch({"properties": {"road": "东关大街南段"}}), ADMIN, version=1)
    entries, project = registry.history("closure", "c1", ANONYMOUS)
    assert project.id == PROJECT
    assert [(e["version"], e["action"], e["by"]) for e in entries] == [(1, "create", EDITOR.name),
                                                                      (2, "update", ADMIN.name)]
    assert entries[1]["at"] == datetime(2024, 5, 20, 5, 0, tzinfo=UTC)
    assert entries[1]["changes"] == {"properties.road": {"from": "东关大街", "to": "东关大街南段"}}


# ---------------------------------------------------------------------- drafts

@pytest.fixture
def made_draft(registry, made_project, closure_body):
    return registry.create_closure(load_closure(closure_body("d1", publish_at="2024-05-21")), EDITOR)


def test_draft_is_visible_only_to_those_who_may_edit_it(registry, made_draft):
    for who in (ANONYMOUS, OTHER, PARTNER):
        with pytest.raises(NotFound):
            registry.closure("d1", who)
        assert [v.closure.id for v in registry.closures(who)] == []
    for who in (EDITOR, ADMIN):
        assert registry.closure("d1", who).closure.id == "d1"
        assert [v.closure.id for v in registry.closures(who)] == ["d1"]


def test_draft_is_public_from_the_start_of_its_local_publish_day(registry, made_draft, clock):
    clock.now = datetime(2024, 5, 20, 15, 59, 59, tzinfo=UTC)  # 23:59:59 in Xining
    with pytest.raises(NotFound):
        registry.closure("d1", ANONYMOUS)
    clock.now = datetime(2024, 5, 20, 16, 0, tzinfo=UTC)
    assert registry.closure("d1", ANONYMOUS).closure.id == "d1"


# ---------------------------------------------------------------------- import

def test_import_reports_every_bad_feature_and_stores_nothing(registry, made_closure, closure_body, snapshot):
    no_road = closure_body("c3")
    del no_road["properties"]["road"]
    body = {"type": "FeatureCollection",
            "features": [closure_body("c1", road="新路"), no_road, closure_body("c4", direction="sideways")]}
    before = snapshot()
    with pytest.raises(ValidationFailed) as info:
        registry.import_features(load_features(body), EDITOR)
    assert set(info.value.errors) == {"features[1].properties.road", "features[2].properties.direction"}
    assert snapshot() == before


def test_import_names_the_callers_parse_failures_and_the_domains_faults_together(registry, made_project,
                                                                                closure_body, snapshot):
    no_road = closure_body("c1")
    del no_road["properties"]["road"]
    point = closure_body("c3")
    point["geometry"] = {"type": "Point", "coordinates": [101.79, 36.61]}
    before = snapshot()
    with pytest.raises(ValidationFailed) as info:
        registry.import_features(collection(no_road, closure_body("c2", project="no-such-project"), point), EDITOR)
    assert set(info.value.errors) == {"features[0].properties.road", "features[1].properties.project",
                                      "features[2].geometry.type"}
    assert snapshot() == before


def test_a_forbidden_feature_refuses_the_import_even_after_one_that_did_not_parse(registry, made_project,
                                                                                  closure_body, snapshot):
    no_road = closure_body("c1")
    del no_road["properties"]["road"]
    before = snapshot()
    with pytest.raises(Forbidden):
        registry.import_features(collection(no_road, closure_body("c2")), OTHER)
    assert snapshot() == before


def test_import_creates_new_and_updates_existing(registry, services, made_closure, closure_body, seq):
    before = seq()
    views = registry.import_features(collection(closure_body("c1", road="新路"), closure_body("c2")), EDITOR)
    assert [(v.closure.id, v.closure.version) for v in views] == [("c1", 2), ("c2", 1)]
    assert seq() == before + 2
    assert [r["action"] for r in services.store.history("closure", "c1")] == ["create", "update"]


# ---------------------------------------------------------------------- the after-write hook

def test_after_hook_runs_inside_the_write_with_the_result(registry, project_body):
    seen = []
    project = registry.create_project(load_project(project_body), EDITOR, after=lambda writer, result: seen.append(
        (writer.get("project", PROJECT).version, result)))
    assert seen == [(1, project)]


def test_failing_after_hook_rolls_the_write_back(registry, made_project, closure_body, snapshot):
    def fail(writer, result):
        raise RuntimeError("remembering the response failed")

    before = snapshot()
    with pytest.raises(RuntimeError):
        registry.create_closure(load_closure(closure_body("c1")), EDITOR, after=fail)
    assert snapshot() == before
    with pytest.raises(NotFound):
        registry.closure("c1", EDITOR)


def test_rolled_back_write_leaves_no_trace_in_later_reads(registry, made_project, closure_body):
    def fail(writer, result):
        raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        registry.create_closure(load_closure(closure_body("c1", road="旧路")), EDITOR, after=fail)
    created = registry.create_closure(load_closure(closure_body("c1", road="新路")), EDITOR)
    assert created.closure.road == "新路"
    assert registry.closure("c1", ANONYMOUS).closure.road == "新路"


# ---------------------------------------------------------------------- the feed cap (FEED_MAX_EVENTS_PER_CLOSURE)

NIGHTS = [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "22:00", "end": "06:00"}]
A_YEAR = {"windows": [{"start": "2025-01-01", "end": "2025-12-31"}], "hours": NIGHTS}


def parts(n: int) -> dict:
    return {"type": "MultiLineString",
            "coordinates": [[[101.70 + k * 0.0003, 36.60], [101.7002 + k * 0.0003, 36.6001]] for k in range(n)]}


def test_a_closure_that_could_flood_a_feed_is_refused_naming_the_cap(registry, made_project, closure_body, snapshot):
    before = snapshot()
    body = closure_body("flood", direction="both", schedule=A_YEAR)
    body["geometry"] = parts(400)
    with pytest.raises(ValidationFailed) as failure:
        registry.create_closure(load_closure(body), EDITOR)
    (path, [message]), = failure.value.errors.items()
    assert path == "properties.schedule.hours" and "FEED_MAX_EVENTS_PER_CLOSURE is 15000" in message
    assert snapshot() == before


def test_a_year_of_night_works_on_a_30_part_street_is_accepted(registry, made_project, closure_body):
    body = closure_body("nights", direction="both", schedule=A_YEAR)
    body["geometry"] = parts(30)
    assert registry.create_closure(load_closure(body), EDITOR).closure.schedule.hours


def test_patch_and_import_past_the_cap_are_refused_too(registry, made_closure, closure_body, snapshot):
    before = snapshot()
    with pytest.raises(ValidationFailed, match="FEED_MAX_EVENTS_PER_CLOSURE"):
        registry.edit_closure("c1", closure_patch({"geometry": parts(400), "properties": {"schedule": A_YEAR}}),
                              EDITOR, None)
    feature = closure_body("c2", schedule=A_YEAR)
    feature["geometry"] = parts(400)
    with pytest.raises(ValidationFailed) as failure:
        registry.import_features(collection(feature), EDITOR)
    assert list(failure.value.errors) == ["features[0].properties.schedule.hours"]
    assert snapshot() == before


def test_the_cap_is_the_setting_and_a_closure_at_it_is_accepted(make_app, made_project, closure_body):
    # Three 10-day windows both ways on one line: 3 periods x 2 ways = 6 events in any 211 days.
    windows = [{"start": f"2025-0{m}-01", "end": f"2025-0{m}-10"} for m in (1, 2, 3)]
    body = closure_body("three", direction="both", schedule={"windows": windows})
    refusing = make_app(FEED_MAX_EVENTS_PER_CLOSURE=5).extensions["roadworks"].registry
    with pytest.raises(ValidationFailed, match="FEED_MAX_EVENTS_PER_CLOSURE is 5"):
        refusing.create_closure(body, EDITOR)
    accepting = make_app(FEED_MAX_EVENTS_PER_CLOSURE=6).extensions["roadworks"].registry
    assert accepting.create_closure(body, EDITOR).closure.id == "three"


def test_reopening_a_closure_stored_past_the_cap_is_never_refused(registry, made_project, closure_body, clock):
    body = closure_body("old", direction="both", schedule=A_YEAR)
    body["geometry"] = parts(400)
    registry.feed_cap, cap = None, registry.feed_cap  # as if stored before the cap existed
    registry.create_closure(load_closure(body), EDITOR)
    registry.feed_cap = cap
    reopened = registry.reopen("old", datetime.fromisoformat("2025-02-01T00:00:00+08:00"), EDITOR, None)
    assert reopened.closure.actual_end == datetime(2025, 1, 31, 16, tzinfo=UTC)
    with pytest.raises(ValidationFailed, match="FEED_MAX_EVENTS_PER_CLOSURE"):
        registry.edit_closure("old", closure_patch({"properties": {"detour": "经南小街"}}), EDITOR, None)
