"""Tests of the bureau's write API (roadworks/api/bureau.py) through HTTP.

Covers authentication (401/403), optimistic concurrency (428/412 with If-Match), Idempotency-Key
replays, history rows and the change sequence, reopening, bulk import (all or nothing), project
management and drafts. Every rejected write is checked to leave the database untouched.
"""

from __future__ import annotations

import json
import re

import pytest

from roadworks.auth import hash_token

AGENCY = "西宁市城乡建设局"
OTHER_AGENCY = "西宁市公安局交通警察支队"
PROJECT = "dongguan-gas-2024"
GEOJSON = "application/geo+json"
PROBLEM = "application/problem+json"
ETAG = re.compile(r'^"(\d+)\.[0-9a-f]+"$')
CLOSURES = "/api/v1/closures"
PROJECTS = "/api/v1/projects"


# ---------------------------------------------------------------------- helpers

def assert_problem(response, status: int) -> dict:
    """The response is an RFC 9457 problem with this status; returns its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    assert body["status"] == status
    assert body["type"] and body["title"] and "detail" in body
    return body


def assert_401(response) -> None:
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].lower().startswith("bearer")


def etag_version(response) -> int:
    match = ETAG.match(response.headers["ETag"])
    assert match, response.headers.get("ETag")
    return int(match.group(1))


def history(client, id: str, kind: str = "closures") -> list[dict]:
    response = client.get(f"/api/v1/{kind}/{id}/history")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json["history"]


def closure_ids(client, headers=None, **query) -> set[str]:
    response = client.get(CLOSURES, query_string=query, headers=headers or {})
    assert response.status_code == 200, response.get_data(as_text=True)
    return {f["id"] for f in response.json["features"]}


@pytest.fixture
def seq(services):
    """The store's change sequence number now."""
    return services.store.sequence


@pytest.fixture
def closure(client, auth, editor_token, project, closure_body):
    """Closure c1 of the project, created by the bureau's editor; the 201 response."""
    response = client.post(CLOSURES, json=closure_body("c1"), headers=auth(editor_token))
    assert response.status_code == 201, response.get_data(as_text=True)
    return response


@pytest.fixture
def revoked_token(services, editor_token, project):
    """The bureau's editor token, revoked after it created the project."""
    token = services.store.token_by_hash(hash_token(editor_token))
    assert services.store.revoke_token(token.id, services.clock())
    return editor_token


# ---------------------------------------------------------------------- creating closures

def test_create_closure_answers_201_with_location_etag_and_geojson(client, auth, editor_token, project,
                                                                   closure_body):
    response = client.post(CLOSURES, json=closure_body("c1"), headers=auth(editor_token))
    assert response.status_code == 201
    assert response.mimetype == GEOJSON
    assert response.headers["Location"].endswith("/api/v1/closures/c1")
    assert etag_version(response) == 1
    feature = response.json
    assert feature["type"] == "Feature" and feature["id"] == "c1"
    props = feature["properties"]
    assert props["project"] == PROJECT and props["road"] == "东关大街" and props["from"] == "乐都路"
    assert props["direction"] == "both" and props["impact"] == "closed" and props["cancelled"] is False
    assert props["version"] == 1
    assert props["status"] == "active"
    assert props["created_at"] == props["updated_at"] == "2024-05-20T12:00:00+08:00"
    assert props["length_m"] > 0


def test_created_closure_is_readable_with_the_same_etag(client, closure):
    response = client.get(closure.headers["Location"])
    assert response.status_code == 200
    assert response.mimetype == GEOJSON
    assert response.json == closure.json
    assert response.headers["ETag"] == closure.headers["ETag"]


def test_create_closure_without_id_gets_a_generated_id_in_location(client, auth, editor_token, project,
                                                                   closure_body):
    response = client.post(CLOSURES, json=closure_body(), headers=auth(editor_token))
    assert response.status_code == 201
    new_id = response.json["id"]
    assert new_id and response.headers["Location"].endswith(f"/api/v1/closures/{new_id}")
    assert client.get(f"{CLOSURES}/{new_id}").status_code == 200


def test_create_closure_takes_one_sequence_number_and_one_history_row(client, auth, editor_token, project,
                                                                       closure_body, seq):
    before = seq()
    client.post(CLOSURES, json=closure_body("c1"), headers=auth(editor_token))
    assert seq() == before + 1
    rows = history(client, "c1")
    assert len(rows) == 1
    row = rows[0]
    assert (row["version"], row["action"], row["by"]) == (1, "create", "Construction bureau desk")
    assert row["at"] == "2024-05-20T12:00:00+08:00"
    assert row["changes"]["properties.road"] == {"from": None, "to": "东关大街"}
    assert row["changes"]["id"] == {"from": None, "to": "c1"}


def test_admin_may_create_a_closure_in_any_agencys_project(client, auth, admin_token, project, closure_body):
    response = client.post(CLOSURES, json=closure_body("c1"), headers=auth(admin_token))
    assert response.status_code == 201
    assert history(client, "c1")[0]["by"] == "City admin"


def test_impact_alternating_is_accepted_and_returned(client, auth, editor_token, project, closure_body):
    response = client.post(CLOSURES, json=closure_body("c1", impact="alternating"), headers=auth(editor_token))
    assert response.status_code == 201
    assert response.json["properties"]["impact"] == "alternating"
    assert client.get(f"{CLOSURES}/c1").json["properties"]["impact"] == "alternating"


def test_create_closure_with_an_existing_id_is_409_and_changes_nothing(client, auth, editor_token, closure,
                                                                       closure_body, snapshot):
    before = snapshot()
    response = client.post(CLOSURES, json=closure_body("c1", road="别的路"), headers=auth(editor_token))
    assert_problem(response, 409)
    assert snapshot() == before


def test_create_closure_with_invalid_body_is_422_with_field_errors(client, auth, editor_token, project,
                                                                   closure_body, snapshot):
    body = closure_body("c1", impact="exploded")
    del body["properties"]["road"]
    before = snapshot()
    problem = assert_problem(client.post(CLOSURES, json=body, headers=auth(editor_token)), 422)
    assert "properties.road" in problem["errors"]
    assert "properties.impact" in problem["errors"]
    assert snapshot() == before


def test_create_closure_accepts_geojson_content_type(client, auth, editor_token, project, closure_body):
    response = client.post(CLOSURES, data=json.dumps(closure_body("c1")), content_type=GEOJSON,
                           headers=auth(editor_token))
    assert response.status_code == 201


def test_create_closure_with_a_non_json_body_is_415_and_changes_nothing(client, auth, editor_token, project,
                                                                        snapshot):
    before = snapshot()
    response = client.post(CLOSURES, data="road=东关大街", content_type="text/plain", headers=auth(editor_token))
    assert_problem(response, 415)
    assert snapshot() == before

def test_create_closure_in_unknown_project_is_422_on_properties_project(client, auth, editor_token, project,
                                                                        closure_body):
    response = client.post(CLOSURES, json=closure_body("c1", project="no-such-project"),
                           headers=auth(editor_token))
    assert "properties.project" in assert_problem(response, 422)["errors"]


# ---------------------------------------------------------------------- authentication and agencies

def test_create_closure_without_token_is_401_and_changes_nothing(client, project, closure_body, snapshot):
    before = snapshot()
    assert_401(client.post(CLOSURES, json=closure_body("c1")))
    assert snapshot() == before


@pytest.mark.parametrize("header", ["Bearer rw_not-a-real-token", "Basic dXNlcjpwYXNz", "Bearer ", "Token"])
def test_create_closure_with_bad_authorization_is_401(client, project, closure_body, snapshot, header):
    before = snapshot()
    assert_401(client.post(CLOSURES, json=closure_body("c1"), headers={"Authorization": header}))
    assert snapshot() == before


def test_revoked_token_is_401_for_writes(client, auth, revoked_token, project, closure_body, snapshot):
    before = snapshot()
    assert_401(client.post(CLOSURES, json=closure_body("c1"), headers=auth(revoked_token)))
    assert snapshot() == before


def test_bad_token_is_401_even_on_a_public_read(client, closure):
    assert_401(client.get(f"{CLOSURES}/c1", headers={"Authorization": "Bearer rw_not-a-real-token"}))

def test_other_agency_may_not_create_a_closure_in_the_project(client, auth, other_editor_token, project,
                                                               closure_body, snapshot):
    before = snapshot()
    assert_problem(client.post(CLOSURES, json=closure_body("c1"), headers=auth(other_editor_token)), 403)
    assert snapshot() == before


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_writes_to_a_closure_without_token_are_401_and_change_nothing(client, closure, closure_body, snapshot,
                                                                      method):
    before = snapshot()
    body = None if method == "delete" else closure_body("c1", road="别的路")
    response = getattr(client, method)(f"{CLOSURES}/c1", json=body,
                                       headers={"If-Match": closure.headers["ETag"]})
    assert_401(response)
    assert snapshot() == before


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_writes_to_a_closure_by_other_agency_are_403_and_change_nothing(client, auth, other_editor_token,
                                                                        closure, closure_body, snapshot,
                                                                        method):
    before = snapshot()
    body = None if method == "delete" else closure_body("c1", road="别的路")
    response = getattr(client, method)(f"{CLOSURES}/c1", json=body,
                                       headers=auth(other_editor_token, If_Match=closure.headers["ETag"]))
    assert_problem(response, 403)
    assert snapshot() == before


def test_reopen_by_other_agency_is_403_and_without_token_401(client, auth, other_editor_token, closure,
                                                             snapshot):
    before = snapshot()
    assert_problem(client.post(f"{CLOSURES}/c1/reopen", headers=auth(other_editor_token)), 403)
    assert_401(client.post(f"{CLOSURES}/c1/reopen"))
    assert snapshot() == before


def test_editor_may_not_move_a_closure_into_another_agencys_project(client, auth, editor_token,
                                                                    other_editor_token, closure, closure_body,
                                                                    snapshot):
    other = {"id": "police-2024", "name": "交警项目", "agency": OTHER_AGENCY}
    assert client.post(PROJECTS, json=other, headers=auth(other_editor_token)).status_code == 201
    before = snapshot()
    response = client.put(f"{CLOSURES}/c1", json=closure_body("c1", project="police-2024"),
                          headers=auth(editor_token, If_Match=closure.headers["ETag"]))
    assert_problem(response, 403)
    assert snapshot() == before


def test_admin_may_update_any_agencys_closure(client, auth, admin_token, closure):
    response = client.patch(f"{CLOSURES}/c1", json={"properties": {"road": "东关大街南段"}},
                            headers=auth(admin_token, If_Match=closure.headers["ETag"]))
    assert response.status_code == 200
    assert history(client, "c1")[-1]["by"] == "City admin"


def test_anonymous_post_with_invalid_body_is_401_not_422(client, project, closure_body):
    body = closure_body("c1")
    del body["properties"]["road"]
    assert_401(client.post(CLOSURES, json=body))


def test_anonymous_patch_without_if_match_is_401_not_428(client, closure):
    assert_401(client.patch(f"{CLOSURES}/c1", json={"properties": {"road": "x"}}))


# ---------------------------------------------------------------------- If-Match: 428 and 412

@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_closure_writes_without_if_match_are_428_and_change_nothing(client, auth, editor_token, closure,
                                                                    closure_body, snapshot, method):
    before = snapshot()
    body = None if method == "delete" else closure_body("c1", road="别的路")
    response = getattr(client, method)(f"{CLOSURES}/c1", json=body, headers=auth(editor_token))
    assert_problem(response, 428)
    assert snapshot() == before


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_closure_writes_with_stale_if_match_are_412_and_change_nothing(client, auth, editor_token, closure,
                                                                       closure_body, snapshot, method):
    first = closure.headers["ETag"]
    second = client.patch(f"{CLOSURES}/c1", json={"properties": {"detour": "走南关街"}},
                          headers=auth(editor_token, If_Match=first))
    assert second.status_code == 200
    before = snapshot()
    body = None if method == "delete" else closure_body("c1", road="别的路")
    response = getattr(client, method)(f"{CLOSURES}/c1", json=body, headers=auth(editor_token, If_Match=first))
    assert_problem(response, 412)
    assert snapshot() == before


def test_if_match_compares_only_the_version_of_the_etag(client, auth, editor_token, closure):
    response = client.patch(f"{CLOSURES}/c1", json={"properties": {"detour": "走南关街"}},
                            headers=auth(editor_token, If_Match='"1.0000000000000000"'))
    assert response.status_code == 200
    assert etag_version(response) == 2


@pytest.mark.parametrize("tag", ['"not-ours"', '"7.zz"'])
def test_well_formed_foreign_if_match_is_412_and_changes_nothing(client, auth, editor_token, closure, snapshot, tag):
    before = snapshot()
    response = client.patch(f"{CLOSURES}/c1", json={"properties": {"detour": "x"}},
                            headers=auth(editor_token, If_Match=tag))
    assert_problem(response, 412)
    assert snapshot() == before


def test_weak_etag_in_if_match_is_accepted(client, auth, editor_token, closure):
    response = client.patch(f"{CLOSURES}/c1", json={"properties": {"detour": "走南关街"}},
                            headers=auth(editor_token, If_Match="W/" + closure.headers["ETag"]))
    assert response.status_code == 200


def test_if_match_star_matches_any_version(client, auth, editor_token, closure):
    response = client.patch(f"{CLOSURES}/c1", json={"properties": {"detour": "走南关街"}},
                            headers=auth(editor_token, If_Match="*"))
    assert response.status_code == 200 and etag_version(response) == 2

def test_malformed_if_match_is_400_and_changes_nothing(client, auth, editor_token, closure, snapshot):
    before = snapshot()
    response = client.patch(f"{CLOSURES}/c1", json={"properties": {"detour": "x"}},
                            headers=auth(editor_token, If_Match="version-one"))
    assert_problem(response, 400)
    assert snapshot() == before


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_writes_to_an_unknown_closure_are_404(client, auth, editor_token, project, closure_body, method):
    body = None if method == "delete" else closure_body("nope")
    response = getattr(client, method)(f"{CLOSURES}/nope", json=body, headers=auth(editor_token, If_Match='"1.ab"'))
    assert_problem(response, 404)


# ---------------------------------------------------------------------- PUT and PATCH

def test_put_replaces_the_closure_and_bumps_version(client, auth, editor_token, closure, closure_body, seq):
    before = seq()
    body = closure_body("c1", road="东关大街南段", detour="走南关街")
    del body["properties"]["from"]
    response = client.put(f"{CLOSURES}/c1", json=body, headers=auth(editor_token, If_Match=closure.headers["ETag"]))
    assert response.status_code == 200
    assert response.mimetype == GEOJSON
    assert etag_version(response) == 2
    props = response.json["properties"]
    assert props["road"] == "东关大街南段" and props["detour"] == "走南关街"
    assert props["from"] is None  # absent from the PUT body: removed
    assert props["version"] == 2
    assert "Location" not in response.headers
    assert seq() == before + 1
    assert client.get(f"{CLOSURES}/c1").json == response.json


def test_put_accepts_the_representation_it_served_back(client, auth, editor_token, closure):
    feature = client.get(f"{CLOSURES}/c1").json
    feature["properties"]["road"] = "东关大街南段"
    response = client.put(f"{CLOSURES}/c1", json=feature, headers=auth(editor_token, If_Match=closure.headers["ETag"]))
    assert response.status_code == 200, response.json
    assert response.json["properties"]["road"] == "东关大街南段"


def test_put_with_a_different_id_in_the_body_is_422(client, auth, editor_token, closure, closure_body, snapshot):
    before = snapshot()
    response = client.put(f"{CLOSURES}/c1", json=closure_body("c2"),
                          headers=auth(editor_token, If_Match=closure.headers["ETag"]))
    assert "id" in assert_problem(response, 422)["errors"]
    assert snapshot() == before


def test_put_history_lists_only_what_changed(client, auth, editor_token, closure, closure_body, clock):
    clock.advance(days=1)
    client.put(f"{CLOSURES}/c1", json=closure_body("c1", road="东关大街南段"),
               headers=auth(editor_token, If_Match=closure.headers["ETag"]))
    row = history(client, "c1")[-1]
    assert row == {"version": 2, "at": "2024-05-21T12:00:00+08:00", "by": "Construction bureau desk",
                   "action": "update", "changes": {"properties.road": {"from": "东关大街", "to": "东关大街南段"}}}


def test_patch_is_a_json_merge_patch(client, auth, editor_token, closure):
    patch = {"properties": {"from": None, "impact": "alternating",
                            "schedule": {"windows": [{"start": "2024-04-12", "end": "2024-07-01"}]}}}
    response = client.patch(f"{CLOSURES}/c1", json=patch, headers=auth(editor_token, If_Match=closure.headers["ETag"]))
    assert response.status_code == 200
    assert response.mimetype == GEOJSON
    props = response.json["properties"]
    assert props["from"] is None  # null removed the member
    assert props["to"] == "共和路" and props["road"] == "东关大街"  # untouched members stay
    assert props["impact"] == "alternating"
    assert props["schedule"]["windows"] == [{"start": "2024-04-12", "end": "2024-07-01"}]
    assert props["version"] == 2 and etag_version(response) == 2
    assert response.json["geometry"] == closure.json["geometry"]


def test_patch_accepts_merge_patch_content_type(client, auth, editor_token, closure):
    response = client.patch(f"{CLOSURES}/c1", data='{"properties": {"detour": "走南关街"}}',
                            content_type="application/merge-patch+json",
                            headers=auth(editor_token, If_Match=closure.headers["ETag"]))
    assert response.status_code == 200
    assert response.json["properties"]["detour"] == "走南关街"


def test_patch_history_records_from_and_to(client, auth, editor_token, closure, seq):
    before = seq()
    client.patch(f"{CLOSURES}/c1", json={"properties": {"from": None, "impact": "lanes-closed"}},
                 headers=auth(editor_token, If_Match=closure.headers["ETag"]))
    assert seq() == before + 1
    rows = history(client, "c1")
    assert [r["version"] for r in rows] == [1, 2]
    assert rows[1]["action"] == "update"
    assert rows[1]["changes"] == {"properties.from": {"from": "乐都路", "to": None},
                                  "properties.impact": {"from": "closed", "to": "lanes-closed"}}


def test_patch_that_breaks_a_rule_is_422_and_changes_nothing(client, auth, editor_token, closure, snapshot):
    before = snapshot()
    response = client.patch(f"{CLOSURES}/c1", json={"properties": {"schedule": {"windows": []}}},
                            headers=auth(editor_token, If_Match=closure.headers["ETag"]))
    assert any(k.startswith("properties.schedule") for k in assert_problem(response, 422)["errors"])
    assert snapshot() == before


def test_patch_with_a_non_object_body_is_422_not_500(client, auth, editor_token, closure, snapshot):
    before = snapshot()
    response = client.patch(f"{CLOSURES}/c1", json=["road"], headers=auth(editor_token, If_Match=closure.headers["ETag"]))
    assert_problem(response, 422)
    assert snapshot() == before


def test_successive_patches_each_need_the_newest_etag(client, auth, editor_token, closure):
    second = client.patch(f"{CLOSURES}/c1", json={"properties": {"detour": "a"}},
                          headers=auth(editor_token, If_Match=closure.headers["ETag"]))
    third = client.patch(f"{CLOSURES}/c1", json={"properties": {"detour": "b"}},
                         headers=auth(editor_token, If_Match=second.headers["ETag"]))
    assert third.status_code == 200 and etag_version(third) == 3
    assert [r["version"] for r in history(client, "c1")] == [1, 2, 3]


# ---------------------------------------------------------------------- DELETE

def test_delete_leaves_a_tombstone_and_moves_the_sequence(client, auth, editor_token, closure, services, seq):
    before = seq()
    response = client.delete(f"{CLOSURES}/c1", headers=auth(editor_token, If_Match=closure.headers["ETag"]))
    assert response.status_code == 204
    assert response.get_data() == b""
    assert seq() == before + 1
    assert_problem(client.get(f"{CLOSURES}/c1"), 404)
    assert "c1" not in closure_ids(client, status="all")
    tombstone = services.store.get("closure", "c1", include_deleted=True)
    assert tombstone is not None and tombstone.deleted_at is not None
    assert tombstone.version == 2 and tombstone.seq == before + 1


def test_delete_writes_a_history_row(services, client, auth, editor_token, closure):
    client.delete(f"{CLOSURES}/c1", headers=auth(editor_token, If_Match=closure.headers["ETag"]))
    rows = services.store.history("closure", "c1")
    assert [(r["version"], r["action"], r["actor"]) for r in rows] == [
        (1, "create", "Construction bureau desk"), (2, "delete", "Construction bureau desk")]


def test_history_of_a_deleted_closure_shows_the_delete(client, auth, editor_token, closure):
    client.delete(f"{CLOSURES}/c1", headers=auth(editor_token, If_Match=closure.headers["ETag"]))
    rows = history(client, "c1")
    assert [r["action"] for r in rows] == ["create", "delete"]


def test_deleted_closure_cannot_be_deleted_or_patched_again(client, auth, editor_token, closure):
    client.delete(f"{CLOSURES}/c1", headers=auth(editor_token, If_Match=closure.headers["ETag"]))
    assert_problem(client.delete(f"{CLOSURES}/c1", headers=auth(editor_token, If_Match='"2.0"')), 404)
    assert_problem(client.patch(f"{CLOSURES}/c1", json={"properties": {"detour": "x"}},
                                headers=auth(editor_token, If_Match='"2.0"')), 404)


def test_deleted_id_may_be_created_again_with_a_newer_version(client, auth, editor_token, closure, closure_body):
    client.delete(f"{CLOSURES}/c1", headers=auth(editor_token, If_Match=closure.headers["ETag"]))
    again = client.post(CLOSURES, json=closure_body("c1"), headers=auth(editor_token))
    assert again.status_code == 201
    assert etag_version(again) > 2  # versions never repeat, so old ETags stay stale
    assert client.get(f"{CLOSURES}/c1").status_code == 200


# ---------------------------------------------------------------------- reopen

def test_reopen_defaults_to_now_and_completes_the_closure(client, auth, editor_token, closure, seq):
    before = seq()
    response = client.post(f"{CLOSURES}/c1/reopen", headers=auth(editor_token))
    assert response.status_code == 200
    assert response.mimetype == GEOJSON
    props = response.json["properties"]
    assert props["actual_end"] == "2024-05-20T12:00:00+08:00"
    assert props["status"] == "completed"
    assert props["next_change"] is None
    assert props["version"] == 2 and etag_version(response) == 2
    assert seq() == before + 1
    assert client.get(f"{CLOSURES}/c1").json["properties"]["status"] == "completed"


def test_reopen_with_at_sets_that_instant_in_the_project_offset(client, auth, editor_token, closure):
    response = client.post(f"{CLOSURES}/c1/reopen", json={"at": "2024-05-20T01:00:00Z"}, headers=auth(editor_token))
    assert response.status_code == 200
    assert response.json["properties"]["actual_end"] == "2024-05-20T09:00:00+08:00"
    assert response.json["properties"]["status"] == "completed"


def test_reopen_with_a_date(client, auth, editor_token, closure):
    response = client.post(f"{CLOSURES}/c1/reopen", json={"at": "2024-05-18"}, headers=auth(editor_token))
    assert response.status_code == 200
    assert response.json["properties"]["actual_end"] == "2024-05-18"
    assert response.json["properties"]["status"] == "completed"


def test_reopen_history_row_has_action_reopen(client, auth, editor_token, closure):
    client.post(f"{CLOSURES}/c1/reopen", headers=auth(editor_token))
    row = history(client, "c1")[-1]
    assert row["version"] == 2 and row["action"] == "reopen" and row["by"] == "Construction bureau desk"
    assert row["changes"] == {"properties.actual_end": {"from": None, "to": "2024-05-20T12:00:00+08:00"}}


def test_reopen_with_stale_if_match_is_412_and_with_current_one_200(client, auth, editor_token, closure, snapshot):
    client.patch(f"{CLOSURES}/c1", json={"properties": {"detour": "a"}},
                 headers=auth(editor_token, If_Match=closure.headers["ETag"]))
    before = snapshot()
    stale = client.post(f"{CLOSURES}/c1/reopen", headers=auth(editor_token, If_Match=closure.headers["ETag"]))
    assert_problem(stale, 412)
    assert snapshot() == before
    fresh = client.post(f"{CLOSURES}/c1/reopen", headers=auth(editor_token, If_Match='"2.0"'))
    assert fresh.status_code == 200


def test_reopen_with_invalid_body_is_422_and_changes_nothing(client, auth, editor_token, closure, snapshot):
    before = snapshot()
    for body in ({"at": "yesterday"}, {"when": "2024-05-18"}, {"at": "2024-05-20T12:00:00"}):
        response = client.post(f"{CLOSURES}/c1/reopen", json=body, headers=auth(editor_token))
        assert_problem(response, 422)
    assert snapshot() == before


def test_reopen_with_a_non_object_body_is_422_and_changes_nothing(client, auth, editor_token, closure, snapshot):
    before = snapshot()
    response = client.post(f"{CLOSURES}/c1/reopen", json=[], headers=auth(editor_token))
    assert_problem(response, 422)
    assert snapshot() == before

def test_reopen_before_actual_start_is_422(client, auth, editor_token, project, closure_body, snapshot):
    client.post(CLOSURES, json=closure_body("c1", actual_start="2024-04-15"), headers=auth(editor_token))
    before = snapshot()
    response = client.post(f"{CLOSURES}/c1/reopen", json={"at": "2024-04-10"}, headers=auth(editor_token))
    assert "properties.actual_end" in assert_problem(response, 422)["errors"]
    assert snapshot() == before


def test_reopen_of_unknown_closure_is_404(client, auth, editor_token, project):
    assert_problem(client.post(f"{CLOSURES}/nope/reopen", headers=auth(editor_token)), 404)


def test_reopen_honours_idempotency_key(client, auth, editor_token, closure, seq):
    headers = auth(editor_token, Idempotency_Key="reopen-1")
    first = client.post(f"{CLOSURES}/c1/reopen", headers=headers)
    after_first = seq()
    replay = client.post(f"{CLOSURES}/c1/reopen", headers=headers)
    assert replay.status_code == first.status_code == 200
    assert replay.get_data() == first.get_data()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert seq() == after_first
    assert [r["action"] for r in history(client, "c1")] == ["create", "reopen"]


# ---------------------------------------------------------------------- Idempotency-Key

def test_idempotent_replay_gives_identical_answer_and_one_closure(client, auth, editor_token, project,
                                                                  closure_body, seq):
    headers = auth(editor_token, Idempotency_Key="k-1")
    first = client.post(CLOSURES, json=closure_body(), headers=headers)
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    after_first = seq()
    replay = client.post(CLOSURES, json=closure_body(), headers=headers)
    assert replay.status_code == 201
    assert replay.get_data() == first.get_data()
    assert replay.headers["Location"] == first.headers["Location"]
    assert replay.headers["ETag"] == first.headers["ETag"]
    assert replay.mimetype == GEOJSON
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert seq() == after_first
    assert closure_ids(client, status="all") == {first.json["id"]}


def test_idempotent_replay_survives_later_changes(client, auth, editor_token, project, closure_body, clock):
    headers = auth(editor_token, Idempotency_Key="k-1")
    first = client.post(CLOSURES, json=closure_body("c1"), headers=headers)
    client.patch(f"{CLOSURES}/c1", json={"properties": {"detour": "a"}},
                 headers=auth(editor_token, If_Match=first.headers["ETag"]))
    clock.advance(hours=2)
    replay = client.post(CLOSURES, json=closure_body("c1"), headers=headers)
    assert replay.status_code == 201
    assert replay.get_data() == first.get_data()


def test_same_idempotency_key_with_another_body_is_422_and_creates_nothing(client, auth, editor_token, project,
                                                                           closure_body, snapshot):
    headers = auth(editor_token, Idempotency_Key="k-1")
    assert client.post(CLOSURES, json=closure_body("c1"), headers=headers).status_code == 201
    before = snapshot()
    response = client.post(CLOSURES, json=closure_body("c2"), headers=headers)
    assert "Idempotency-Key" in assert_problem(response, 422)["errors"]
    assert snapshot() == before
    assert_problem(client.get(f"{CLOSURES}/c2"), 404)


def test_same_idempotency_key_on_another_path_is_422(client, auth, editor_token, project, closure_body, snapshot):
    headers = auth(editor_token, Idempotency_Key="k-1")
    assert client.post(CLOSURES, json=closure_body("c1"), headers=headers).status_code == 201
    before = snapshot()
    response = client.post("/api/v1/import", json=closure_body("c1"), headers=headers)
    assert_problem(response, 422)
    assert snapshot() == before


def test_failed_request_does_not_use_up_its_idempotency_key(client, auth, editor_token, project, closure_body):
    headers = auth(editor_token, Idempotency_Key="k-1")
    bad = closure_body("c1", impact="exploded")
    assert client.post(CLOSURES, json=bad, headers=headers).status_code == 422
    good = client.post(CLOSURES, json=closure_body("c1"), headers=headers)
    assert good.status_code == 201
    assert "Idempotent-Replayed" not in good.headers


def test_idempotency_keys_belong_to_one_token(client, auth, editor_token, admin_token, project, closure_body):
    first = client.post(CLOSURES, json=closure_body(), headers=auth(editor_token, Idempotency_Key="k-1"))
    second = client.post(CLOSURES, json=closure_body(), headers=auth(admin_token, Idempotency_Key="k-1"))
    assert first.status_code == second.status_code == 201
    assert "Idempotent-Replayed" not in second.headers
    assert first.json["id"] != second.json["id"]


def test_a_request_that_loses_the_race_for_its_key_answers_as_the_winner(client, auth, editor_token, project,
                                                                         closure_body, services, monkeypatch, seq):
    headers = auth(editor_token, Idempotency_Key="race-1")
    first = client.post(CLOSURES, json=closure_body(), headers=headers)  # no id: a rerun would make a new one
    after_first = seq()
    looked, remembered = [], services.store.remembered

    def before_the_winner_committed(token_id, key):
        looked.append(key)  # the loser's first look finds nothing; the store refuses its own answer later
        return None if len(looked) == 1 else remembered(token_id, key)

    monkeypatch.setattr(services.store, "remembered", before_the_winner_committed)
    second = client.post(CLOSURES, json=closure_body(), headers=headers)
    assert (second.status_code, second.get_data()) == (201, first.get_data())
    assert second.headers["Idempotent-Replayed"] == "true" and len(looked) == 2
    assert seq() == after_first  # the loser's write was rolled back


def test_idempotent_project_creation_replays(client, auth, editor_token, project_body, seq):
    headers = auth(editor_token, Idempotency_Key="p-1")
    first = client.post(PROJECTS, json=project_body, headers=headers)
    after_first = seq()
    replay = client.post(PROJECTS, json=project_body, headers=headers)
    assert first.status_code == replay.status_code == 201
    assert replay.get_data() == first.get_data()
    assert replay.headers["Location"] == first.headers["Location"]
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert seq() == after_first


def test_overlong_idempotency_key_is_400(client, auth, editor_token, project, closure_body, snapshot):
    before = snapshot()
    response = client.post(CLOSURES, json=closure_body("c1"), headers=auth(editor_token, Idempotency_Key="k" * 201))
    assert_problem(response, 400)
    assert snapshot() == before


# ---------------------------------------------------------------------- import

def collection(*features) -> dict:
    return {"type": "FeatureCollection", "features": list(features)}


def test_import_creates_and_replaces_closures(client, auth, editor_token, closure, closure_body, seq):
    before = seq()
    body = collection(closure_body("c1", road="东关大街南段"), closure_body("c2"), closure_body("c3", road="共和路"))
    response = client.post("/api/v1/import", json=body, headers=auth(editor_token))
    assert response.status_code == 200
    assert response.mimetype == GEOJSON
    assert response.json["type"] == "FeatureCollection"
    assert [f["id"] for f in response.json["features"]] == ["c1", "c2", "c3"]
    assert seq() == before + 3
    replaced = client.get(f"{CLOSURES}/c1")
    assert replaced.json["properties"]["road"] == "东关大街南段"
    assert etag_version(replaced) == 2
    assert [r["action"] for r in history(client, "c1")] == ["create", "update"]
    assert [r["action"] for r in history(client, "c2")] == ["create"]
    assert closure_ids(client) == {"c1", "c2", "c3"}


def test_import_with_invalid_features_is_422_keyed_by_index_and_changes_nothing(client, auth, editor_token,
                                                                               closure, closure_body,
                                                                               snapshot):
    no_road = closure_body("c3")
    del no_road["properties"]["road"]
    bad_geometry = closure_body("c4")
    bad_geometry["geometry"] = {"type": "Point", "coordinates": [101.79, 36.61]}
    body = collection(closure_body("c1", road="东关大街南段"), closure_body("c2"), no_road, bad_geometry,
                      closure_body("c5", impact="exploded"))
    before = snapshot()
    problem = assert_problem(client.post("/api/v1/import", json=body, headers=auth(editor_token)), 422)
    errors = problem["errors"]
    assert "features[2].properties.road" in errors
    assert any(k.startswith("features[3].geometry") for k in errors), errors
    assert "features[4].properties.impact" in errors
    assert not any(k.startswith(("features[0]", "features[1]")) for k in errors), errors
    assert snapshot() == before
    assert client.get(f"{CLOSURES}/c1").json["properties"]["road"] == "东关大街"
    assert_problem(client.get(f"{CLOSURES}/c2"), 404)


def test_import_error_for_unknown_project_names_the_feature(client, auth, editor_token, project, closure_body,
                                                           snapshot):
    before = snapshot()
    body = collection(closure_body("c1"), closure_body("c2", project="no-such-project"))
    problem = assert_problem(client.post("/api/v1/import", json=body, headers=auth(editor_token)), 422)
    assert list(problem["errors"]) == ["features[1].properties.project"]
    assert snapshot() == before


def test_import_with_a_bad_envelope_is_422(client, auth, editor_token, project, closure_body, snapshot):
    before = snapshot()
    for body in ({"type": "FeatureCollection", "features": []}, closure_body("c1"),
                 {"type": "FeatureCollection"}, [closure_body("c1")]):
        assert_problem(client.post("/api/v1/import", json=body, headers=auth(editor_token)), 422)
    assert snapshot() == before


def test_import_without_token_is_401_and_by_other_agency_403(client, auth, other_editor_token, closure,
                                                              closure_body, snapshot):
    before = snapshot()
    body = collection(closure_body("c1", road="别的路"), closure_body("c2"))
    assert_401(client.post("/api/v1/import", json=body))
    assert_problem(client.post("/api/v1/import", json=body, headers=auth(other_editor_token)), 403)
    assert snapshot() == before


def test_import_honours_idempotency_key(client, auth, editor_token, project, closure_body, seq):
    headers = auth(editor_token, Idempotency_Key="import-1")
    body = collection(closure_body("c1"), closure_body("c2"))
    first = client.post("/api/v1/import", json=body, headers=headers)
    after_first = seq()
    replay = client.post("/api/v1/import", json=body, headers=headers)
    assert first.status_code == replay.status_code == 200
    assert replay.get_data() == first.get_data()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert seq() == after_first
    assert [r["version"] for r in history(client, "c1")] == [1]


def test_closure_created_after_a_rejected_import_shows_its_own_content(client, auth, editor_token, project,
                                                                       closure_body):
    no_road = closure_body("c9")
    del no_road["properties"]["road"]
    rejected = client.post("/api/v1/import", json=collection(closure_body("c2", road="旧路"), no_road),
                           headers=auth(editor_token))
    assert rejected.status_code == 422
    created = client.post(CLOSURES, json=closure_body("c2", road="新路"), headers=auth(editor_token))
    assert created.status_code == 201
    assert created.json["properties"]["road"] == "新路"
    assert client.get(f"{CLOSURES}/c2").json["properties"]["road"] == "新路"


def test_import_may_not_take_over_another_agencys_closure(client, auth, other_editor_token, closure,
                                                          closure_body, snapshot):
    other = {"id": "police-2024", "name": "交警项目", "agency": OTHER_AGENCY}
    assert client.post(PROJECTS, json=other, headers=auth(other_editor_token)).status_code == 201
    before = snapshot()
    body = collection(closure_body("c1", project="police-2024"))
    assert_problem(client.post("/api/v1/import", json=body, headers=auth(other_editor_token)), 403)
    assert snapshot() == before


def test_import_names_a_feature_that_is_not_an_object(client, auth, editor_token, project, closure_body,
                                                      snapshot):
    before = snapshot()
    response = client.post("/api/v1/import", json=collection(closure_body("c1"), 5), headers=auth(editor_token))
    assert list(assert_problem(response, 422)["errors"]) == ["features[1]"]
    assert snapshot() == before


# ---------------------------------------------------------------------- projects

def test_create_project_answers_201_with_location_and_etag(client, auth, editor_token, project_body, seq):
    before = seq()
    response = client.post(PROJECTS, json=project_body, headers=auth(editor_token))
    assert response.status_code == 201
    assert response.mimetype == "application/json"
    assert response.headers["Location"].endswith(f"/api/v1/projects/{PROJECT}")
    assert etag_version(response) == 1
    body = response.json
    assert body["id"] == PROJECT and body["agency"] == AGENCY and body["version"] == 1
    assert body["pauses"] == project_body["pauses"]
    assert body["created_at"] == "2024-05-20T12:00:00+08:00"
    assert seq() == before + 1
    assert client.get(response.headers["Location"]).json == body


def test_project_agency_defaults_to_the_editors(client, auth, editor_token, project_body):
    del project_body["agency"]
    response = client.post(PROJECTS, json=project_body, headers=auth(editor_token))
    assert response.status_code == 201
    assert response.json["agency"] == AGENCY


def test_editor_creating_a_project_for_another_agency_is_403(client, auth, editor_token, project_body, snapshot):
    before = snapshot()
    response = client.post(PROJECTS, json=dict(project_body, agency=OTHER_AGENCY), headers=auth(editor_token))
    assert_problem(response, 403)
    assert snapshot() == before


def test_admin_creates_projects_for_any_agency_but_must_name_it(client, auth, admin_token, project_body):
    assert client.post(PROJECTS, json=dict(project_body, agency=OTHER_AGENCY),
                       headers=auth(admin_token)).status_code == 201
    del project_body["agency"]
    response = client.post(PROJECTS, json=dict(project_body, id="other"), headers=auth(admin_token))
    assert "agency" in assert_problem(response, 422)["errors"]


def test_create_project_twice_is_409(client, auth, editor_token, project, project_body, snapshot):
    before = snapshot()
    assert_problem(client.post(PROJECTS, json=project_body, headers=auth(editor_token)), 409)
    assert snapshot() == before


def test_create_project_without_token_is_401(client, project_body, snapshot):
    before = snapshot()
    assert_401(client.post(PROJECTS, json=project_body))
    assert snapshot() == before


def test_put_project_replaces_it(client, auth, editor_token, project, project_body):
    body = dict(project_body, name="东关大街燃气改造", description="二期")
    del body["pauses"]
    response = client.put(f"{PROJECTS}/{PROJECT}", json=body, headers=auth(editor_token, If_Match='"1.0"'))
    assert response.status_code == 200
    assert response.json["name"] == "东关大街燃气改造" and response.json["description"] == "二期"
    assert response.json["pauses"] == []
    assert response.json["version"] == 2 and etag_version(response) == 2
    changes = history(client, PROJECT, "projects")[-1]["changes"]
    assert changes["name"] == {"from": "东关大街燃气管网提升改造项目", "to": "东关大街燃气改造"}
    assert changes["pauses"]["to"] == []


def test_patch_project_merges(client, auth, editor_token, project):
    response = client.patch(f"{PROJECTS}/{PROJECT}", json={"contact": None, "reference": "西建许[2024]17号"},
                            headers=auth(editor_token, If_Match='"1.0"'))
    assert response.status_code == 200
    assert response.json["contact"] is None
    assert response.json["reference"] == "西建许[2024]17号"
    assert response.json["name"] == project["name"] and response.json["pauses"] == project["pauses"]
    row = history(client, PROJECT, "projects")[-1]
    assert row["action"] == "update" and row["version"] == 2
    assert row["changes"] == {"contact": {"from": "12345", "to": None},
                              "reference": {"from": None, "to": "西建许[2024]17号"}}


def test_editor_may_not_give_its_project_to_another_agency(client, auth, editor_token, project, snapshot):
    before = snapshot()
    response = client.patch(f"{PROJECTS}/{PROJECT}", json={"agency": OTHER_AGENCY},
                            headers=auth(editor_token, If_Match='"1.0"'))
    assert_problem(response, 403)
    assert snapshot() == before


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_project_writes_need_if_match_and_a_current_one(client, auth, editor_token, project, project_body,
                                                        snapshot, method):
    before = snapshot()
    body = None if method == "delete" else dict(project_body, name="新名")
    call = getattr(client, method)
    assert_problem(call(f"{PROJECTS}/{PROJECT}", json=body, headers=auth(editor_token)), 428)
    assert_problem(call(f"{PROJECTS}/{PROJECT}", json=body, headers=auth(editor_token, If_Match='"7.0"')), 412)
    assert snapshot() == before


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_project_writes_by_other_agency_are_403_and_anonymous_401(client, auth, other_editor_token, project,
                                                                  project_body, snapshot, method):
    before = snapshot()
    body = None if method == "delete" else dict(project_body, name="新名")
    call = getattr(client, method)
    assert_problem(call(f"{PROJECTS}/{PROJECT}", json=body, headers=auth(other_editor_token, If_Match='"1.0"')), 403)
    assert_401(call(f"{PROJECTS}/{PROJECT}", json=body, headers={"If-Match": '"1.0"'}))
    assert snapshot() == before


def test_delete_project_with_live_closures_is_409(client, auth, editor_token, closure, snapshot):
    before = snapshot()
    assert_problem(client.delete(f"{PROJECTS}/{PROJECT}", headers=auth(editor_token, If_Match='"1.0"')), 409)
    assert snapshot() == before


def test_delete_project_after_its_closures_are_gone(client, auth, editor_token, closure, seq):
    client.delete(f"{CLOSURES}/c1", headers=auth(editor_token, If_Match=closure.headers["ETag"]))
    before = seq()
    response = client.delete(f"{PROJECTS}/{PROJECT}", headers=auth(editor_token, If_Match='"1.0"'))
    assert response.status_code == 204
    assert seq() == before + 1
    assert_problem(client.get(f"{PROJECTS}/{PROJECT}"), 404)
    assert PROJECT not in {p["id"] for p in client.get(PROJECTS).json["projects"]}


def test_project_history_uses_the_project_offset(client, auth, editor_token, project_body, closure_body):
    body = dict(project_body, id="tokyo", timezone="Asia/Tokyo", pauses=[])
    assert client.post(PROJECTS, json=body, headers=auth(editor_token)).status_code == 201
    assert history(client, "tokyo", "projects")[0]["at"] == "2024-05-20T13:00:00+09:00"
    client.post(CLOSURES, json=closure_body("t1", project="tokyo"), headers=auth(editor_token))
    assert history(client, "t1")[0]["at"] == "2024-05-20T13:00:00+09:00"


# ---------------------------------------------------------------------- drafts and cancellation

@pytest.fixture
def draft(client, auth, editor_token, project, closure_body):
    response = client.post(CLOSURES, json=closure_body("d1", publish_at="2024-05-21T08:00:00+08:00"),
                           headers=auth(editor_token))
    assert response.status_code == 201
    return response


def test_draft_is_hidden_from_the_public(client, draft):
    assert draft.json["properties"]["publish_at"] == "2024-05-21T08:00:00+08:00"
    assert_problem(client.get(f"{CLOSURES}/d1"), 404)
    assert "d1" not in closure_ids(client, status="all")
    assert_problem(client.get(f"{CLOSURES}/d1/history"), 404)


def test_draft_is_hidden_from_another_agency(client, auth, other_editor_token, draft):
    assert_problem(client.get(f"{CLOSURES}/d1", headers=auth(other_editor_token)), 404)
    assert "d1" not in closure_ids(client, auth(other_editor_token), status="all")


def test_draft_is_visible_to_its_editor_and_admin(client, auth, editor_token, admin_token, draft):
    for token in (editor_token, admin_token):
        response = client.get(f"{CLOSURES}/d1", headers=auth(token))
        assert response.status_code == 200
        assert response.json["id"] == "d1"
        assert "d1" in closure_ids(client, auth(token))


def test_draft_becomes_public_once_publish_at_passes(client, clock, draft):
    clock.advance(hours=19, minutes=59, seconds=59)  # 2024-05-21T07:59:59+08:00
    assert_problem(client.get(f"{CLOSURES}/d1"), 404)
    clock.advance(seconds=1)
    assert client.get(f"{CLOSURES}/d1").status_code == 200
    assert "d1" in closure_ids(client)


def test_cancelled_closure_stays_visible_with_status_cancelled(client, auth, editor_token, closure):
    response = client.patch(f"{CLOSURES}/c1", json={"properties": {"cancelled": True}},
                            headers=auth(editor_token, If_Match=closure.headers["ETag"]))
    assert response.status_code == 200
    assert response.json["properties"]["cancelled"] is True
    assert response.json["properties"]["status"] == "cancelled"
    public = client.get(f"{CLOSURES}/c1")
    assert public.status_code == 200 and public.json["properties"]["status"] == "cancelled"
    assert "c1" in closure_ids(client, status="cancelled")
    assert "c1" not in closure_ids(client)  # the default filter is active,paused,upcoming




def test_history_of_a_draft_deleted_before_publication_stays_hidden(client, auth, editor_token, project,
                                                                    closure_body):
    body = closure_body("ghost", publish_at="2030-01-01")
    created = client.post("/api/v1/closures", json=body, headers=auth(editor_token))
    client.delete("/api/v1/closures/ghost", headers=auth(editor_token, If_Match=created.headers["ETag"]))
    assert client.get("/api/v1/closures/ghost/history").status_code == 404
    assert client.get("/api/v1/closures/ghost/history", headers=auth(editor_token)).status_code == 200


# A reopening before the closure started (issue 12): the first window starts on 2024-04-12 (Xining).

def test_reopen_before_the_first_window_is_422_naming_actual_end(client, auth, editor_token, closure, snapshot):
    before = snapshot()
    for at in ("2024-04-01", "2024-04-11T23:59:59+08:00", "2024-04-12"):
        response = client.post(f"{CLOSURES}/c1/reopen", json={"at": at}, headers=auth(editor_token))
        assert "properties.actual_end" in assert_problem(response, 422)["errors"], at
    assert snapshot() == before
    assert client.post(f"{CLOSURES}/c1/reopen", json={"at": "2024-04-12T00:00:01+08:00"},
                       headers=auth(editor_token)).status_code == 200


@pytest.mark.parametrize("method", ["post", "put", "patch"])
def test_writes_with_actual_end_before_the_first_window_are_422(client, auth, editor_token, project, closure_body,
                                                                  snapshot, method):
    if method != "post":
        assert client.post(CLOSURES, json=closure_body("c1"), headers=auth(editor_token)).status_code == 201
    before = snapshot()
    if method == "post":
        response = client.post(CLOSURES, json=closure_body("c1", actual_end="2024-04-01"), headers=auth(editor_token))
    elif method == "put":
        response = client.put(f"{CLOSURES}/c1", json=closure_body("c1", actual_end="2024-04-01"),
                              headers=auth(editor_token, If_Match='"1.0"'))
    else:
        response = client.patch(f"{CLOSURES}/c1", json={"properties": {"actual_end": "2024-04-11T12:00:00+08:00"}},
                                headers=auth(editor_token, If_Match='"1.0"'))
    problem = assert_problem(response, 422)
    assert "properties.actual_end" in problem["errors"]
    assert "after the closure started" in problem["errors"]["properties.actual_end"][0]
    assert snapshot() == before


def test_actual_start_earlier_than_the_window_lets_an_early_reopening_through(client, auth, editor_token, project,
                                                                                closure_body):
    body = closure_body("c1", actual_start="2024-03-01", actual_end="2024-04-01")  # began and ended early
    assert client.post(CLOSURES, json=body, headers=auth(editor_token)).status_code == 201
