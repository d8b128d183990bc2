"""Public reads over HTTP: the founding case's statuses instant by instant, filters, paging and drafts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest

GONGHE, NANXIAO, YANGJIA = "dongguan-ledu-gonghe", "dongguan-ledu-nanxiao", "dongguan-yangjia-jianguo"
PROJECT = "dongguan-gas-2024"

# The scenario's table of expected statuses (Asia/Shanghai).
EXPECTED = {
    "2024-04-11T12:00:00+08:00": {GONGHE: "upcoming", NANXIAO: "upcoming", YANGJIA: "upcoming"},
    "2024-05-20T12:00:00+08:00": {GONGHE: "active", NANXIAO: "upcoming", YANGJIA: "upcoming"},
    "2024-06-03T12:00:00+08:00": {GONGHE: "completed", NANXIAO: "upcoming", YANGJIA: "upcoming"},
    "2024-07-15T12:00:00+08:00": {GONGHE: "completed", NANXIAO: "upcoming", YANGJIA: "upcoming"},
    "2024-09-02T12:00:00+08:00": {GONGHE: "completed", NANXIAO: "active", YANGJIA: "active"},
}
CASES = [(at, id, status) for at, row in EXPECTED.items() for id, status in row.items()]


def statuses(response) -> dict[str, str]:
    return {f["id"]: f["properties"]["status"] for f in response.json["features"]}


def ids(response) -> list[str]:
    return [f["id"] for f in response.json["features"]]


def at_xining(year, month, day, hour=12) -> datetime:
    return datetime(year, month, day, hour - 8, tzinfo=UTC)


@pytest.fixture
def long_closure(demo, client, auth, editor_token, closure_body):
    """A closure planned 2024-04-01..2024-10-31 in the demo project: it spans the tourist-season pause."""
    body = closure_body("dongguan-long", schedule={"windows": [{"start": "2024-04-01", "end": "2024-10-31"}]})
    response = client.post("/api/v1/closures", json=body, headers=auth(editor_token))
    assert response.status_code == 201, response.json
    return response.json


# ---------------------------------------------------------------- the founding case, instant by instant

@pytest.mark.parametrize("at", list(EXPECTED))
def test_list_gives_the_scenario_statuses(demo, client, at):
    response = client.get("/api/v1/closures", query_string={"at": at, "status": "all"})
    assert response.status_code == 200
    assert statuses(response) == EXPECTED[at]


@pytest.mark.parametrize("at,id,status", CASES)
def test_single_closure_gives_the_scenario_status(demo, client, at, id, status):
    response = client.get(f"/api/v1/closures/{id}", query_string={"at": at})
    assert response.status_code == 200
    assert response.json["id"] == id
    assert response.json["properties"]["status"] == status


def test_closure_spanning_the_pause_is_paused_in_july(long_closure, client):
    response = client.get("/api/v1/closures/dongguan-long", query_string={"at": "2024-07-15T12:00:00+08:00"})
    assert response.json["properties"]["status"] == "paused"
    assert response.json["properties"]["next_change"] == "2024-09-01T00:00:00+08:00"


def test_closure_spanning_the_pause_is_active_again_in_september(long_closure, client):
    response = client.get("/api/v1/closures/dongguan-long", query_string={"at": "2024-09-02T12:00:00+08:00"})
    assert response.json["properties"]["status"] == "active"
    assert response.json["properties"]["next_change"] == "2024-11-01T00:00:00+08:00"


def test_paused_closure_is_listed_by_default(long_closure, client):
    response = client.get("/api/v1/closures", query_string={"at": "2024-07-15T12:00:00+08:00"})
    assert statuses(response) == {NANXIAO: "upcoming", YANGJIA: "upcoming", "dongguan-long": "paused"}


# ---------------------------------------------------------------- next_change

def test_next_change_of_ledu_gonghe_is_its_early_reopening(demo, client):
    response = client.get(f"/api/v1/closures/{GONGHE}", query_string={"at": "2024-05-20T12:00:00+08:00"})
    assert response.json["properties"]["next_change"] == "2024-05-31T00:00:00+08:00"


def test_next_change_of_september_closures_is_first_september(demo, client):
    response = client.get("/api/v1/closures", query_string={"at": "2024-05-20T12:00:00+08:00"})
    changes = {f["id"]: f["properties"]["next_change"] for f in response.json["features"]}
    assert changes[NANXIAO] == changes[YANGJIA] == "2024-09-01T00:00:00+08:00"


def test_next_change_before_works_is_their_start(demo, client):
    response = client.get(f"/api/v1/closures/{GONGHE}", query_string={"at": "2024-04-11T12:00:00+08:00"})
    assert response.json["properties"]["next_change"] == "2024-04-12T00:00:00+08:00"


def test_next_change_is_null_when_nothing_more_is_known(demo, client):
    at = {"at": "2024-09-02T12:00:00+08:00"}
    assert client.get(f"/api/v1/closures/{GONGHE}", query_string=at).json["properties"]["next_change"] is None
    assert client.get(f"/api/v1/closures/{NANXIAO}", query_string=at).json["properties"]["next_change"] is None


@pytest.mark.parametrize("at,id,status", [
    ("2024-05-30T23:59:59+08:00", GONGHE, "active"), ("2024-05-31T00:00:00+08:00", GONGHE, "completed"),
    ("2024-08-31T23:59:59+08:00", NANXIAO, "upcoming"), ("2024-09-01T00:00:00+08:00", NANXIAO, "active"),
    ("2024-04-11T23:59:59+08:00", GONGHE, "upcoming"), ("2024-04-12T00:00:00+08:00", GONGHE, "active")])
def test_status_changes_exactly_at_next_change(demo, client, at, id, status):
    response = client.get(f"/api/v1/closures/{id}", query_string={"at": at})
    assert response.json["properties"]["status"] == status


def test_at_in_utc_gives_the_same_answer_in_project_offset(demo, client):
    response = client.get(f"/api/v1/closures/{GONGHE}", query_string={"at": "2024-05-20T04:00:00Z"})
    assert response.json["properties"]["status"] == "active"
    assert response.json["properties"]["next_change"] == "2024-05-31T00:00:00+08:00"


# ---------------------------------------------------------------- now comes from the clock

def test_without_at_the_clock_decides(demo, client, clock):
    assert statuses(client.get("/api/v1/closures", query_string={"status": "all"}))[GONGHE] == "active"
    clock.now = at_xining(2024, 9, 2)
    assert statuses(client.get("/api/v1/closures", query_string={"status": "all"})) == EXPECTED[
        "2024-09-02T12:00:00+08:00"]


def test_single_closure_without_at_follows_the_clock(demo, client, clock):
    assert client.get(f"/api/v1/closures/{GONGHE}").json["properties"]["status"] == "active"
    clock.now = at_xining(2024, 6, 3)
    assert client.get(f"/api/v1/closures/{GONGHE}").json["properties"]["status"] == "completed"
    clock.now = at_xining(2024, 4, 11)
    assert client.get(f"/api/v1/closures/{GONGHE}").json["properties"]["status"] == "upcoming"


# ---------------------------------------------------------------- status filter

def test_default_status_filter_leaves_out_completed(demo, client):
    response = client.get("/api/v1/closures", query_string={"at": "2024-06-03T12:00:00+08:00"})
    assert sorted(ids(response)) == [NANXIAO, YANGJIA]


def test_status_all_includes_completed(demo, client):
    response = client.get("/api/v1/closures", query_string={"at": "2024-06-03T12:00:00+08:00", "status": "all"})
    assert sorted(ids(response)) == [GONGHE, NANXIAO, YANGJIA]


def test_status_completed_gives_only_completed(demo, client):
    response = client.get("/api/v1/closures", query_string={"at": "2024-06-03T12:00:00+08:00",
                                                            "status": "completed"})
    assert ids(response) == [GONGHE]


def test_status_comma_list(demo, client):
    response = client.get("/api/v1/closures", query_string={"at": "2024-09-02T12:00:00+08:00",
                                                            "status": "active,completed"})
    assert sorted(ids(response)) == [GONGHE, NANXIAO, YANGJIA]
    response = client.get("/api/v1/closures", query_string={"at": "2024-09-02T12:00:00+08:00",
                                                            "status": "upcoming,paused"})
    assert ids(response) == []


def test_unknown_status_is_a_problem(demo, client):
    response = client.get("/api/v1/closures", query_string={"status": "closed"})
    assert response.status_code in (400, 422)
    assert response.mimetype == "application/problem+json"


# ---------------------------------------------------------------- other filters

def test_project_filter(demo, client, auth, other_editor_token, closure_body):
    other = {"id": "police-2024", "name": "交警 project", "timezone": "Asia/Shanghai"}
    assert client.post("/api/v1/projects", json=other, headers=auth(other_editor_token)).status_code == 201
    body = closure_body("police-one", project="police-2024")
    assert client.post("/api/v1/closures", json=body, headers=auth(other_editor_token)).status_code == 201
    everything = client.get("/api/v1/closures", query_string={"status": "all"})
    assert "police-one" in ids(everything) and len(ids(everything)) == 4
    mine = client.get("/api/v1/closures", query_string={"status": "all", "project": PROJECT})
    assert sorted(ids(mine)) == [GONGHE, NANXIAO, YANGJIA]
    theirs = client.get("/api/v1/closures", query_string={"status": "all", "project": "police-2024"})
    assert ids(theirs) == ["police-one"]


def test_unknown_project_filter_matches_nothing(demo, client):
    response = client.get("/api/v1/closures", query_string={"status": "all", "project": "nowhere"})
    assert response.status_code == 200 and ids(response) == []


def test_bbox_around_yangjia_jianguo_gives_only_it(demo, client):
    response = client.get("/api/v1/closures", query_string={"status": "all", "bbox": "101.803,36.60,101.809,36.62"})
    assert ids(response) == [YANGJIA]


def test_bbox_far_away_gives_none(demo, client):
    response = client.get("/api/v1/closures", query_string={"status": "all", "bbox": "116.3,39.8,116.5,40.0"})
    assert response.status_code == 200 and ids(response) == []


def test_bbox_around_the_whole_street_gives_all(demo, client):
    response = client.get("/api/v1/closures", query_string={"status": "all", "bbox": "101.78,36.60,101.81,36.62"})
    assert sorted(ids(response)) == [GONGHE, NANXIAO, YANGJIA]


def test_bad_bbox_is_a_problem(demo, client):
    response = client.get("/api/v1/closures", query_string={"bbox": "101.8,36.6"})
    assert response.status_code in (400, 422)
    assert response.mimetype == "application/problem+json"


def test_road_filter_is_a_substring(demo, client, auth, editor_token, closure_body):
    body = closure_body("other-road", road="建国大街")
    assert client.post("/api/v1/closures", json=body, headers=auth(editor_token)).status_code == 201
    response = client.get("/api/v1/closures", query_string={"status": "all", "road": "东关"})
    assert sorted(ids(response)) == [GONGHE, NANXIAO, YANGJIA]
    response = client.get("/api/v1/closures", query_string={"status": "all", "road": "建国"})
    assert ids(response) == ["other-road"]
    response = client.get("/api/v1/closures", query_string={"status": "all", "road": "不存在"})
    assert ids(response) == []


def test_updated_since_gives_only_later_changes(demo, client, clock, auth, editor_token):
    before = client.get(f"/api/v1/closures/{NANXIAO}")
    clock.advance(hours=1)
    changed = client.patch(f"/api/v1/closures/{NANXIAO}", json={"properties": {"detour": "走南大街"}},
                           headers=auth(editor_token, If_Match=before.headers["ETag"]))
    assert changed.status_code == 200, changed.json
    response = client.get("/api/v1/closures", query_string={"status": "all",
                                                            "updated_since": "2024-05-20T12:30:00+08:00"})
    assert ids(response) == [NANXIAO]
    response = client.get("/api/v1/closures", query_string={"status": "all",
                                                            "updated_since": "2024-05-20T11:00:00+08:00"})
    assert sorted(ids(response)) == [GONGHE, NANXIAO, YANGJIA]


# ---------------------------------------------------------------- paging

def _page_through(client, **query) -> tuple[list[str], list[dict]]:
    seen, pages = [], []
    url, args = "/api/v1/closures", dict(query)
    while True:
        response = client.get(url, query_string=args)
        assert response.status_code == 200, response.json
        seen += ids(response)
        pages.append({"matched": response.json["numberMatched"], "returned": response.json["numberReturned"],
                      "count": len(response.json["features"])})
        link = response.headers.get("Link")
        if not link:
            return seen, pages
        assert 'rel="next"' in link
        target = urlsplit(link[link.index("<") + 1:link.index(">")])
        url, args = target.path + "?" + target.query, None
        assert len(pages) < 20


@pytest.fixture
def five_closures(demo, client, auth, editor_token, closure_body):
    for n in (1, 2):
        body = closure_body(f"dongguan-extra-{n}")
        assert client.post("/api/v1/closures", json=body, headers=auth(editor_token)).status_code == 201


def test_limit_and_cursor_page_through_everything(five_closures, client):
    seen, pages = _page_through(client, status="all", limit=2)
    assert sorted(seen) == sorted(set(seen)) and len(seen) == 5
    assert [p["count"] for p in pages] == [2, 2, 1]
    assert all(p["returned"] == p["count"] for p in pages)


def test_last_page_has_no_next_link(five_closures, client):
    response = client.get("/api/v1/closures", query_string={"status": "all", "limit": 5})
    assert "Link" not in response.headers
    assert response.json["numberMatched"] == response.json["numberReturned"] == 5


def test_next_link_keeps_the_filters(five_closures, client):
    response = client.get("/api/v1/closures", query_string={"status": "all", "limit": 1, "road": "东关",
                                                            "at": "2024-06-03T12:00:00+08:00"})
    link = response.headers["Link"]
    assert "road=" in link and "status=all" in link and "at=" in link and "limit=1" in link


def test_first_page_counts_everything_matched(five_closures, client):
    response = client.get("/api/v1/closures", query_string={"status": "all", "limit": 2})
    assert response.json["numberMatched"] == 5 and response.json["numberReturned"] == 2


def test_number_matched_is_the_same_on_every_page(five_closures, client):
    _, pages = _page_through(client, status="all", limit=2)
    assert [p["matched"] for p in pages] == [5, 5, 5]


def test_paging_survives_ids_whose_order_depends_on_collation(demo, client, auth, editor_token, closure_body):
    """Ids with '-', '.', '_' and capitals: the database's ORDER BY and the cursor's comparison must agree."""
    for id in ("col-ab", "col-a-c", "col-A_d", "col-a.e", "col-B"):
        assert client.post("/api/v1/closures", json=closure_body(id), headers=auth(editor_token)).status_code == 201
    seen, _ = _page_through(client, status="all", limit=1)
    assert sorted(seen) == sorted([GONGHE, NANXIAO, YANGJIA, "col-ab", "col-a-c", "col-A_d", "col-a.e", "col-B"])


@pytest.mark.parametrize("path", ["/api/v1/closures", f"/api/v1/closures/{GONGHE}"])
def test_at_at_the_end_of_time_is_no_server_error(demo, client, path):
    response = client.get(path, query_string={"at": "9999-12-31T23:59:59Z"})
    assert response.status_code == 400
    assert "1900" in response.json["errors"]["at"][0]


def test_an_unencoded_plus_in_at_is_read_as_the_offset(demo, client):
    response = client.get(f"/api/v1/closures/{GONGHE}?at=2024-05-20T12:00:00+08:00")
    assert response.status_code == 200
    assert response.json["properties"]["status"] == "active"


def test_unknown_query_parameters_are_refused(demo, client):
    response = client.get("/api/v1/closures", query_string={"stauts": "all"})
    assert response.status_code == 400
    assert "stauts" in response.json["errors"]


@pytest.mark.parametrize("query", [{"at": "2024-05-20"}, {"at": "2024-05-20T12:00:00"}, {"limit": "0"},
                                   {"limit": "abc"}, {"road": ""}, {"bbox": "101.81,36.6,101.80,36.62"},
                                   {"updated_since": "yesterday"}])
def test_bad_query_values_are_problems(demo, client, query):
    response = client.get("/api/v1/closures", query_string=query)
    assert response.status_code in (400, 422)
    assert response.mimetype == "application/problem+json"
    assert set(response.json["errors"]) == set(query)


def test_foreign_cursor_is_a_problem(demo, client):
    response = client.get("/api/v1/closures", query_string={"cursor": "not-a-cursor!"})
    assert response.status_code in (400, 422)
    assert response.mimetype == "application/problem+json"


# ---------------------------------------------------------------- representation

def test_collection_is_geojson(demo, client):
    response = client.get("/api/v1/closures")
    assert response.mimetype == "application/geo+json"
    assert response.json["type"] == "FeatureCollection"


def test_feature_is_geojson(demo, client):
    response = client.get(f"/api/v1/closures/{GONGHE}")
    assert response.mimetype == "application/geo+json"
    assert response.json["type"] == "Feature" and response.json["geometry"]["type"] == "LineString"


def test_feature_carries_read_only_properties(demo, client):
    props = client.get(f"/api/v1/closures/{GONGHE}", query_string={"at": "2024-05-20T12:00:00+08:00"}).json[
        "properties"]
    assert props["status"] == "active"
    assert props["next_change"] == "2024-05-31T00:00:00+08:00"
    assert 600 < props["length_m"] < 650
    assert props["version"] == 1
    assert props["created_at"] == props["updated_at"] == "2024-05-20T12:00:00+08:00"


def test_listed_features_carry_the_same_properties(demo, client):
    listed = {f["id"]: f for f in client.get("/api/v1/closures", query_string={"status": "all"}).json["features"]}
    single = client.get(f"/api/v1/closures/{GONGHE}").json
    assert listed[GONGHE]["properties"] == single["properties"]
    assert listed[GONGHE]["geometry"] == single["geometry"]


def test_feature_carries_what_the_bureau_wrote(demo, client):
    props = client.get(f"/api/v1/closures/{GONGHE}").json["properties"]
    assert props["project"] == PROJECT and props["road"] == "东关大街"
    assert props["from"] == "乐都路" and props["to"] == "共和路"
    assert props["actual_end"] == "2024-05-31"
    assert props["schedule"]["windows"][0]["start"] == "2024-04-12"


def test_version_and_updated_at_move_on_change(demo, client, clock, auth, editor_token):
    before = client.get(f"/api/v1/closures/{YANGJIA}")
    clock.advance(days=1)
    client.patch(f"/api/v1/closures/{YANGJIA}", json={"properties": {"detour": "走东关南街"}},
                 headers=auth(editor_token, If_Match=before.headers["ETag"]))
    props = client.get(f"/api/v1/closures/{YANGJIA}").json["properties"]
    assert props["version"] == 2
    assert props["created_at"] == "2024-05-20T12:00:00+08:00"
    assert props["updated_at"] == "2024-05-21T12:00:00+08:00"


# ---------------------------------------------------------------- projects

def test_projects_are_listed(demo, client):
    response = client.get("/api/v1/projects")
    assert response.status_code == 200
    assert [p["id"] for p in response.json["projects"]] == [PROJECT]


def test_project_is_served_with_its_pauses(demo, client):
    response = client.get(f"/api/v1/projects/{PROJECT}")
    assert response.status_code == 200 and "ETag" in response.headers
    project = response.json
    assert project["name"] == "东关大街燃气管网提升改造项目"
    assert project["timezone"] == "Asia/Shanghai"
    assert project["pauses"][0]["start"] == "2024-06-01" and project["pauses"][0]["end"] == "2024-08-31"
    assert project["version"] == 1 and project["created_at"] == "2024-05-20T12:00:00+08:00"


@pytest.mark.parametrize("path", ["/api/v1/closures/nope", "/api/v1/projects/nope",
                                  "/api/v1/closures/nope/history"])
def test_unknown_ids_are_404_problems(demo, client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.json["status"] == 404 and response.json["title"] and response.json["type"]


# ---------------------------------------------------------------- drafts

@pytest.fixture
def draft(demo, client, auth, editor_token, closure_body):
    body = closure_body("dongguan-draft", publish_at="2024-08-01")
    response = client.post("/api/v1/closures", json=body, headers=auth(editor_token))
    assert response.status_code == 201, response.json
    return response.json


def test_draft_is_hidden_from_the_public_list(draft, client):
    assert "dongguan-draft" not in ids(client.get("/api/v1/closures", query_string={"status": "all"}))


def test_draft_is_404_for_the_public(draft, client):
    assert client.get("/api/v1/closures/dongguan-draft").status_code == 404
    assert client.get("/api/v1/closures/dongguan-draft/history").status_code == 404


def test_draft_is_visible_to_its_editor(draft, client, auth, editor_token):
    listed = client.get("/api/v1/closures", query_string={"status": "all"}, headers=auth(editor_token))
    assert "dongguan-draft" in ids(listed)
    response = client.get("/api/v1/closures/dongguan-draft", headers=auth(editor_token))
    assert response.status_code == 200 and response.json["properties"]["publish_at"] == "2024-08-01"


def test_draft_is_hidden_from_another_agency(draft, client, auth, other_editor_token):
    listed = client.get("/api/v1/closures", query_string={"status": "all"}, headers=auth(other_editor_token))
    assert "dongguan-draft" not in ids(listed)
    assert client.get("/api/v1/closures/dongguan-draft", headers=auth(other_editor_token)).status_code == 404


def test_draft_is_visible_to_an_admin(draft, client, auth, admin_token):
    assert client.get("/api/v1/closures/dongguan-draft", headers=auth(admin_token)).status_code == 200


def test_draft_becomes_public_at_publish_at(draft, client, clock):
    clock.now = at_xining(2024, 8, 1, hour=9)
    assert client.get("/api/v1/closures/dongguan-draft").status_code == 200
    assert "dongguan-draft" in ids(client.get("/api/v1/closures", query_string={"status": "all"}))


# ---------------------------------------------------------------- history

def test_history_is_public_and_names_the_author(demo, client, clock, auth, editor_token):
    before = client.get(f"/api/v1/closures/{NANXIAO}")
    clock.advance(days=2)
    client.patch(f"/api/v1/closures/{NANXIAO}", json={"properties": {"detour": "走南大街"}},
                 headers=auth(editor_token, If_Match=before.headers["ETag"]))
    response = client.get(f"/api/v1/closures/{NANXIAO}/history")
    assert response.status_code == 200
    history = response.json["history"]
    assert [h["version"] for h in history] == [1, 2]
    assert history[0]["by"] == "demo data" and history[0]["action"] == "create"
    assert history[1]["by"] == "Construction bureau desk"
    assert history[1]["at"] == "2024-05-22T12:00:00+08:00"
    assert history[1]["changes"]["properties.detour"]["to"] == "走南大街"


# ---------------------------------------------------------------- what is served is what is stored

def test_rejected_import_does_not_leak_into_reads(project, client, auth, editor_token, closure_body):
    bad = closure_body("public-rollback-probe", road="旧路")
    broken = closure_body("public-rollback-broken", schedule={"windows": [{"start": "2024-06-04",
                                                                             "end": "2024-04-12"}]})
    rejected = client.post("/api/v1/import", json={"type": "FeatureCollection", "features": [bad, broken]},
                           headers=auth(editor_token))
    assert rejected.status_code == 422
    good = closure_body("public-rollback-probe", road="新路")
    assert client.post("/api/v1/closures", json=good, headers=auth(editor_token)).status_code == 201
    assert client.get("/api/v1/closures/public-rollback-probe").json["properties"]["road"] == "新路"


@pytest.mark.parametrize("path", ["/api/v1/projects", "/api/v1/projects/dongguan-gas-2024"])
def test_project_reads_refuse_a_bad_token(demo, client, path):
    response = client.get(path, headers={"Authorization": "Bearer rw_not-a-token"})
    assert response.status_code == 401 and response.mimetype == "application/problem+json"


def test_closures_answer_in_gcj02_when_asked_and_say_so(demo, client):
    from roadworks.domain.crs import URIS, wgs84_to_gcj02

    plain = client.get("/api/v1/closures", query_string={"status": "all"})
    moved = client.get("/api/v1/closures", query_string={"status": "all", "crs": "gcj02"})
    assert moved.status_code == 200 and moved.headers["Content-Crs"] == f"<{URIS['gcj02']}>"
    assert moved.json["coordinate_system"]["name"] == "GCJ-02" and "coordinate_system" not in plain.json
    for before, after in zip(plain.json["features"], moved.json["features"]):
        assert before["id"] == after["id"] and before["properties"] == after["properties"]
        lon, lat = before["geometry"]["coordinates"][0]
        assert after["geometry"]["coordinates"][0] == pytest.approx(list(wgs84_to_gcj02(lon, lat)), abs=1e-7)
    single = client.get(f"/api/v1/closures/{plain.json['features'][0]['id']}", query_string={"crs": "gcj02"})
    assert single.json["geometry"] == moved.json["features"][0]["geometry"]
    assert single.headers["Content-Crs"] == moved.headers["Content-Crs"]


def test_a_gcj02_bbox_and_paging_keep_the_coordinate_system(demo, client):
    from roadworks.domain.crs import wgs84_to_gcj02

    area = ",".join(f"{v:.6f}" for v in (*wgs84_to_gcj02(101.70, 36.50), *wgs84_to_gcj02(101.90, 36.70)))
    first = client.get("/api/v1/closures", query_string={"status": "all", "crs": "gcj02", "bbox": area, "limit": 1})
    assert first.json["numberMatched"] >= 2
    link = first.headers["Link"].split(";")[0].strip("<>")
    assert "crs=gcj02" in link and "coordinate_system" in client.get(link).json


def test_an_unknown_crs_on_closures_is_a_problem_naming_it(client):
    response = client.get("/api/v1/closures", query_string={"crs": "EPSG:3857"})
    assert response.status_code == 400 and "crs" in response.json["errors"]


# ---------------------------------------------------------------------------- drafts (issue 10)

def test_saving_a_draft_changes_no_anonymous_answer_on_this_database(demo, client, clock, auth, editor_token,
                                                                     closure_body):
    """Before and after a draft's save, on the suite's database (PostgreSQL in CI): same bytes and headers."""
    paths = ["/api/v1/closures?road=草", "/api/v1/closures", "/feeds/wzdx.geojson", "/ogc/collections/closures/items",
             "/open511/events", "/api/v1/changes"]

    def answers():
        out = {}
        for path in paths:
            response = client.get(path)
            out[path] = (response.get_data(), response.headers.get("ETag"), response.headers.get("Last-Modified"),
                         response.headers.get("Cache-Control"))
        metrics = client.get("/metrics").get_data(as_text=True)
        out["sequence"] = [line for line in metrics.splitlines() if line.startswith("roadworks_change_sequence ")]
        return out

    clock.advance(minutes=3)
    before = answers()
    body = closure_body("draft-probe", road="草稿路", publish_at=(clock.now + timedelta(seconds=20)).isoformat())
    assert client.post("/api/v1/closures", json=body, headers=auth(editor_token)).status_code == 201
    assert answers() == before
    assert before["/api/v1/closures"][2] is not None  # a Last-Modified, the demo's load, was there to compare
    clock.advance(seconds=20)
    assert ids(client.get("/api/v1/closures?road=草")) == ["draft-probe"]
    changes = client.get("/api/v1/changes").json["changes"]
    assert [c["seq"] for c in changes] == list(range(1, len(changes) + 1)) and changes[-1]["id"] == "draft-probe"
