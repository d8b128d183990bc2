"""The partners' change feed (GET /api/v1/changes): a replay plus polling ends where the public lists are."""

from __future__ import annotations

import base64
import json
from datetime import timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from roadworks.api import changes

CHANGES = "/api/v1/changes"
CLOSURES = "/api/v1/closures"
PROJECTS = "/api/v1/projects"
PROJECT = "dongguan-gas-2024"
PROBLEM = "application/problem+json"
# Members that move with time, and residents' report counts, which move with reports: the feed leaves them out.
MOVING = ("status", "next_change", "reports")


@pytest.fixture(autouse=True)
def feed_registered(app):
    """The changes blueprint, registered here as long as roadworks/__init__.py does not do it."""
    if "changes" not in app.blueprints:
        app.extensions["flask-smorest"]["apis"][""]["ext_obj"].register_blueprint(changes.blp)


# ---------------------------------------------------------------------- helpers

class Partner:
    """A partner's mirror: replays the feed from the start, then polls with the cursor it was handed."""

    def __init__(self, client, limit: int = 2, headers: dict | None = None):
        self.client, self.limit, self.headers = client, limit, headers or {}
        self.cursor: str | None = None
        self.held: dict[tuple[str, str], dict] = {}
        self.seen: list[dict] = []

    def poll(self) -> int:
        """One poll, followed page by page until `more` is false; returns the number of pages."""
        pages = 0
        while True:
            pages += 1
            body, response = self.page()
            assert ("Link" in response.headers) == body["more"]
            if not body["more"]:
                return pages

    def page(self):
        query = {"limit": self.limit} if self.cursor is None else {"limit": self.limit, "since": self.cursor}
        response = self.client.get(CHANGES, query_string=query, headers=self.headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.json
        assert len(body["changes"]) <= self.limit
        for change in body["changes"]:
            self.apply(change)
        self.cursor = body["next"]
        return body, response

    def apply(self, change: dict) -> None:
        self.seen.append(change)
        key = (change["kind"], change["id"])
        if change["action"] == "delete":
            assert change["data"] is None
            self.held.pop(key, None)
            return
        data = change["data"]
        assert data["id"] == change["id"]
        assert (data["properties"] if change["kind"] == "closure" else data)["version"] == change["version"]
        self.held[key] = data

    def closures(self) -> dict[str, dict]:
        return {id: data for (kind, id), data in self.held.items() if kind == "closure"}

    def projects(self) -> dict[str, dict]:
        return {id: data for (kind, id), data in self.held.items() if kind == "project"}


def public_closures(client) -> dict[str, dict]:
    response = client.get(CLOSURES, query_string={"status": "all", "limit": 1000})
    assert response.status_code == 200
    features = {f["id"]: f for f in response.json["features"]}
    for feature in features.values():
        for name in MOVING:
            del feature["properties"][name]
    return features


def public_projects(client) -> dict[str, dict]:
    return {p["id"]: p for p in client.get(PROJECTS).json["projects"]}


def assert_mirrors(partner: Partner, client) -> None:
    """The partner holds exactly what anyone can list: same ids, same versions, same documents."""
    closures, projects = public_closures(client), public_projects(client)
    assert {id: c["properties"]["version"] for id, c in partner.closures().items()} == \
           {id: c["properties"]["version"] for id, c in closures.items()}
    assert {id: p["version"] for id, p in partner.projects().items()} == \
           {id: p["version"] for id, p in projects.items()}
    assert partner.closures() == closures
    assert partner.projects() == projects


class Bureau:
    """The construction bureau's desk: writes through the API, reading ETags as it goes."""

    def __init__(self, client, headers: dict):
        self.client, self.headers = client, headers

    def create(self, body: dict, path: str = CLOSURES) -> None:
        response = self.client.post(path, json=body, headers=self.headers)
        assert response.status_code == 201, response.get_data(as_text=True)

    def _etag(self, path: str) -> str:
        response = self.client.get(path, headers=self.headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.headers["ETag"]

    def patch(self, id: str, patch: dict, path: str = CLOSURES) -> None:
        headers = dict(self.headers, **{"If-Match": self._etag(f"{path}/{id}")})
        response = self.client.patch(f"{path}/{id}", json=patch, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)

    def delete(self, id: str, path: str = CLOSURES) -> None:
        headers = dict(self.headers, **{"If-Match": self._etag(f"{path}/{id}")})
        response = self.client.delete(f"{path}/{id}", headers=headers)
        assert response.status_code == 204, response.get_data(as_text=True)

    def reopen(self, id: str) -> None:
        response = self.client.post(f"{CLOSURES}/{id}/reopen", headers=self.headers)
        assert response.status_code == 200, response.get_data(as_text=True)

    def import_(self, *features: dict) -> None:
        body = {"type": "FeatureCollection", "features": list(features)}
        response = self.client.post("/api/v1/import", json=body, headers=self.headers)
        assert response.status_code == 200, response.get_data(as_text=True)


@pytest.fixture
def bureau(client, auth, editor_token) -> Bureau:
    return Bureau(client, auth(editor_token))


def local(clock, hours: float) -> str:
    """An instant `hours` from the test clock, written in Xining time."""
    return (clock.now + timedelta(hours=hours)).astimezone(timezone(timedelta(hours=8))).isoformat()


def decode(cursor: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))


def encode(data) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def assert_problem(response, status: int, member: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    assert member in response.json["errors"], response.json


# ---------------------------------------------------------------------- the guarantee

def test_replay_then_polling_mirrors_the_public_lists(client, clock, bureau, project_body, closure_body):
    partner = Partner(client, limit=2)
    partner.poll()
    assert partner.held == {} and decode(partner.cursor)["p"] == 0

    # Round 1: a project, three closures, two drafts.
    bureau.create(project_body, PROJECTS)
    for id in ("a", "b", "c"):
        bureau.create(closure_body(id))
    bureau.create(closure_body("d1", publish_at=local(clock, 2)))
    bureau.create(closure_body("d2", publish_at=local(clock, 30)))
    assert partner.poll() > 1  # paging is exercised
    assert_mirrors(partner, client)
    assert "d1" not in partner.closures()

    # Round 2: PATCHes (a published closure and a draft), a reopening, a deletion, a project PATCH, a create.
    clock.advance(minutes=10)
    bureau.patch("a", {"properties": {"detour": "走南大街"}})
    bureau.patch("d1", {"properties": {"detour": "走北大街"}})
    bureau.reopen("b")
    bureau.delete("c")
    bureau.patch(PROJECT, {"contact": "0971-12345"}, PROJECTS)
    bureau.create(closure_body("e"))
    partner.poll()
    assert_mirrors(partner, client)

    # Round 3: an import (an update and two creations), a draft deleted before publication, then time
    # passes d1's publish_at with nothing written in between: the partner must still get d1.
    bureau.import_(closure_body("a", road="东关大街辅路"), closure_body("f"), closure_body("g"))
    bureau.delete("d2")
    partner.poll()
    assert_mirrors(partner, client)
    clock.advance(hours=3)
    partner.poll()
    assert "d1" in partner.closures()
    assert_mirrors(partner, client)

    # Round 4: a published closure goes back to draft, another project lives and dies, c is re-created.
    clock.advance(minutes=5)
    bureau.patch("e", {"properties": {"publish_at": local(clock, 24)}})
    other = dict(project_body, id="other-2024", name="另一个项目")
    bureau.create(other, PROJECTS)
    bureau.create(closure_body("q1", project="other-2024"))
    partner.poll()
    assert_mirrors(partner, client)
    bureau.delete("q1")
    bureau.delete("other-2024", PROJECTS)
    bureau.create(closure_body("c", road="东关大街（重建）"))
    partner.poll()
    assert "e" not in partner.closures()
    assert_mirrors(partner, client)

    # Round 5: e's new publish_at passes.
    clock.advance(days=2)
    partner.poll()
    assert "e" in partner.closures()
    assert_mirrors(partner, client)

    # A draft deleted before publication never showed up, not even as a tombstone.
    assert "d2" not in {c["id"] for c in partner.seen}
    # A partner replaying everything now, in one go or page by page, ends in the same place.
    for limit in (1000, 3):
        late = Partner(client, limit=limit)
        late.poll()
        assert late.held == partner.held


def test_a_draft_published_between_polls_takes_the_next_number_at_its_publication(
        client, clock, bureau, project_body, closure_body):
    # Issue 10: the draft used to come with the number its save took (2), behind the cursor: a gap the
    # public could see while it was hidden. Now it is numbered after everything public before it.
    bureau.create(project_body, PROJECTS)
    bureau.create(closure_body("draft", publish_at=local(clock, 1)))
    partner = Partner(client, limit=10)
    partner.poll()
    assert partner.closures() == {}
    before = decode(partner.cursor)["p"]
    assert before == 1
    bureau.create(closure_body("later"))
    clock.advance(hours=2)
    body, _ = partner.page()
    assert [(c["id"], c["action"], c["seq"]) for c in body["changes"]] == [("later", "create", 2),
                                                                           ("draft", "update", 3)]
    assert body["changes"][1]["at"] == local(clock, -1)  # when it became public
    assert body["changes"][1]["data"]["properties"]["publish_at"] == local(clock, -1)
    body, _ = partner.page()
    assert body["changes"] == []  # the publication is not handed out twice


def test_publications_are_paged_by_the_limit_too(client, clock, bureau, project_body, closure_body):
    bureau.create(project_body, PROJECTS)
    for id in ("p1", "p2", "p3"):  # the same publication instant: the cursor breaks the tie by seq
        bureau.create(closure_body(id, publish_at="2024-05-21"))
    bureau.create(closure_body("p0", publish_at=local(clock, 1)))
    partner = Partner(client, limit=2)
    partner.poll()
    assert partner.closures() == {}
    bureau.create(closure_body("plain"))
    clock.advance(days=2)
    assert partner.poll() == 3
    # In the order they became public: `plain` when written, the drafts at their publications.
    assert [c["id"] for c in partner.seen if c["kind"] == "closure"] == ["plain", "p0", "p1", "p2", "p3"]
    assert [c["seq"] for c in partner.seen] == [1, 2, 3, 4, 5, 6]
    assert_mirrors(partner, client)


def test_hidden_rows_take_no_numbers_and_do_not_stall_paging(client, clock, bureau, project_body, closure_body):
    bureau.create(project_body, PROJECTS)
    for n in range(5):
        bureau.create(closure_body(f"draft{n}", publish_at=local(clock, 1)))
    bureau.create(closure_body("plain"))
    partner = Partner(client, limit=1)
    assert partner.poll() == 2
    assert [(c["seq"], c["id"]) for c in partner.seen] == [(1, PROJECT), (2, "plain")]
    assert decode(partner.cursor) == {"p": 2}


def test_a_published_closure_sent_back_to_draft_is_taken_back_then_returned(
        client, clock, bureau, project_body, closure_body):
    bureau.create(project_body, PROJECTS)
    bureau.create(closure_body("x"))
    partner = Partner(client, limit=10)
    partner.poll()
    bureau.patch("x", {"properties": {"publish_at": local(clock, 5)}})
    body, _ = partner.page()
    assert [(c["action"], c["version"], c["data"]) for c in body["changes"]] == [("delete", 2, None)]
    clock.advance(hours=6)
    body, _ = partner.page()
    assert [(c["action"], c["version"]) for c in body["changes"]] == [("update", 2)]
    assert_mirrors(partner, client)


def test_a_draft_replaced_before_its_publication_is_never_shown(client, clock, bureau, project_body, closure_body):
    bureau.create(project_body, PROJECTS)
    bureau.create(closure_body("x", publish_at=local(clock, 1), road="草稿路"))
    bureau.patch("x", {"properties": {"publish_at": local(clock, 48)}})
    clock.advance(hours=2)  # the first version's publish_at has passed, but it was replaced before it
    partner = Partner(client, limit=10)
    partner.poll()
    assert [c for c in partner.seen if c["kind"] == "closure"] == []


def test_drafts_are_left_out_for_editors_too(client, clock, bureau, auth, editor_token, project_body, closure_body):
    bureau.create(project_body, PROJECTS)
    bureau.create(closure_body("draft", publish_at=local(clock, 1)))
    partner = Partner(client, limit=10, headers=auth(editor_token))
    partner.poll()
    assert partner.closures() == {}


# ---------------------------------------------------------------------- order, tombstones, cursor

def test_changes_come_in_gap_free_sequence_order(client, clock, bureau, project_body, closure_body):
    bureau.create(project_body, PROJECTS)
    bureau.create(closure_body("a"))
    bureau.create(closure_body("b"))
    bureau.patch("a", {"properties": {"detour": "走南大街"}})
    bureau.reopen("b")
    bureau.delete("a")
    partner = Partner(client, limit=1000)
    partner.poll()
    assert [(c["seq"], c["kind"], c["id"], c["action"], c["version"]) for c in partner.seen] == [
        (1, "project", PROJECT, "create", 1), (2, "closure", "a", "create", 1), (3, "closure", "b", "create", 1),
        (4, "closure", "a", "update", 2), (5, "closure", "b", "reopen", 2), (6, "closure", "a", "delete", 3)]
    assert all(c["at"] == "2024-05-20T12:00:00+08:00" for c in partner.seen)  # the project's offset


def test_a_deletion_is_a_tombstone(client, bureau, project_body, closure_body):
    bureau.create(project_body, PROJECTS)
    bureau.create(closure_body("a"))
    partner = Partner(client, limit=10)
    partner.poll()
    bureau.delete("a")
    body, _ = partner.page()
    assert body["changes"] == [{"seq": 3, "kind": "closure", "id": "a", "action": "delete", "version": 2,
                                "at": "2024-05-20T12:00:00+08:00", "data": None}]
    assert partner.closures() == {}


def test_closure_data_is_the_feature_of_that_version(client, clock, bureau, project_body, closure_body):
    bureau.create(project_body, PROJECTS)
    bureau.create(closure_body("a"))
    first = public_closures(client)["a"]
    clock.advance(hours=1)
    bureau.patch("a", {"properties": {"detour": "走南大街"}})
    partner = Partner(client, limit=10)
    partner.poll()
    versions = [c["data"] for c in partner.seen if c["id"] == "a"]
    assert versions[0] == first
    assert versions[1]["properties"]["detour"] == "走南大街"
    assert versions[1]["properties"]["created_at"] == "2024-05-20T12:00:00+08:00"
    assert versions[1]["properties"]["updated_at"] == "2024-05-20T13:00:00+08:00"
    assert not set(MOVING) & set(versions[1]["properties"])


def test_the_cursor_holds_the_last_public_number(client, clock, bureau, project_body, closure_body):
    bureau.create(project_body, PROJECTS)
    bureau.create(closure_body("a"))
    bureau.create(closure_body("b"))
    response = client.get(CHANGES, query_string={"limit": 2})
    body = response.json
    assert body["more"] is True and [c["seq"] for c in body["changes"]] == [1, 2]
    assert decode(body["next"]) == {"p": 2}
    link = response.headers["Link"]
    assert link.endswith('>; rel="next"')
    query = parse_qs(urlsplit(link[1:link.index(">")]).query)
    assert query == {"limit": ["2"], "since": [body["next"]]}
    clock.advance(minutes=1)
    last = client.get(CHANGES, query_string={"limit": 2, "since": body["next"]}).json
    assert [c["seq"] for c in last["changes"]] == [3] and last["more"] is False
    assert decode(last["next"]) == {"p": 3}
    assert "Link" not in client.get(CHANGES, query_string={"since": last["next"]}).headers


def test_an_idle_poll_keeps_its_cursor_and_etag(client, clock, bureau, project_body):
    bureau.create(project_body, PROJECTS)
    first = client.get(CHANGES)
    cursor = first.json["next"]
    clock.advance(minutes=1)
    idle = client.get(CHANGES, query_string={"since": cursor})
    assert idle.json == {"changes": [], "next": cursor, "more": False}
    clock.advance(minutes=1)
    again = client.get(CHANGES, query_string={"since": cursor}, headers={"If-None-Match": idle.headers["ETag"]})
    assert again.status_code == 304
    assert again.headers["ETag"] == idle.headers["ETag"]


def test_etag_and_short_max_age(client, bureau, project_body):
    bureau.create(project_body, PROJECTS)
    response = client.get(CHANGES)
    assert response.headers["Cache-Control"] == "public, max-age=5"
    assert client.get(CHANGES, headers={"If-None-Match": response.headers["ETag"]}).status_code == 304
    bureau.patch(PROJECT, {"contact": "0971-12345"}, PROJECTS)
    assert client.get(CHANGES, headers={"If-None-Match": response.headers["ETag"]}).status_code == 200


# ---------------------------------------------------------------------- bad input

@pytest.mark.parametrize("since", [
    "", "not-a-cursor", "!!!!", "x" * 401, encode([1, 2]), encode({"after": "a"}), encode({"s": -1, "t": None}),
    encode({"s": "3", "t": None}), encode({"s": True, "t": None}), encode({"s": 1.5, "t": None}),
    encode({"s": 0, "t": "2024-05-20T04:00:00"}), encode({"s": 0, "t": "yesterday"}), encode({"s": 0, "t": 5}),
    encode({"s": 0}), encode({"s": 10 ** 30, "t": None}), encode({"s": 99, "t": None}),
    encode({"s": 0, "t": None, "k": -1}), encode({"s": 0, "t": None, "k": "1"}),
    encode({"p": -1}), encode({"p": "1"}), encode({"p": 99}), encode({"p": 1, "s": 0}), encode({"p": 2 ** 63}),
    encode({"s": 0, "t": "0001-01-01T00:00:00+00:00"}),
])
def test_a_bad_cursor_is_a_400_naming_since(client, since):
    assert_problem(client.get(CHANGES, query_string={"since": since}), 400, "since")


@pytest.mark.parametrize("limit", ["0", "1001", "-1", "many", "1.5", ""])
def test_a_limit_out_of_bounds_is_a_400_naming_limit(client, limit):
    assert_problem(client.get(CHANGES, query_string={"limit": limit}), 400, "limit")


def test_unknown_parameters_are_refused(client):
    assert_problem(client.get(CHANGES, query_string={"cursor": "x"}), 400, "cursor")


def test_a_bad_token_is_refused(client):
    assert client.get(CHANGES, headers={"Authorization": "Bearer rw_nope"}).status_code == 401


def test_the_feed_is_in_the_openapi_document(client):
    assert "/api/v1/changes" in client.get("/openapi.json").json["paths"]
