"""Residents' reports (api/reports.py): filing, following, the bureau's queue and answers, limits, privacy."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from roadworks import create_app
from roadworks.cli import main
from roadworks.domain.errors import ValidationFailed
from roadworks.reports import erase_contacts, hash_key, start_eraser
from roadworks.store.tables import report_history, reports
from tests.conftest import AGENCY

URL = "/api/v1/reports"
LEDU_GONGHE = "dongguan-ledu-gonghe"
PHONE = "13912345678"
PHONE_E164 = "+8613912345678"
EMAIL = "Resident.Wang@Example.org"
ON_LINE = [101.7930, 36.6115]  # on Ledu Road - mosque, a few metres off the line
NEAR = [101.7930, 36.6200]  # about 950 m north of Dongguan Street: no closure there, the bureau's nearest
FAR = [101.9500, 36.7500]  # far from every closure, still in the service area: administrators'


def report(**fields) -> dict:
    body = {"closure": LEDU_GONGHE, "kind": "open-but-shown-closed", "text": "路已经通车了，地图还显示封闭。"}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def point(lonlat) -> dict:
    return {"type": "Point", "coordinates": list(lonlat)}


@pytest.fixture
def file(client):
    """File a report as a resident (each from an address of their own, as the budget is per address); the 201
    answer's JSON."""
    residents = iter(range(1, 10_000))

    def post(**fields) -> dict:
        n = next(residents)
        response = client.post(URL, json=report(**fields), environ_base={"REMOTE_ADDR": f"10.1.{n // 250}.{n % 250}"})
        assert response.status_code == 201, response.json
        return response.json

    return post


def etag_of(client, auth, token, id) -> str:
    return client.get(f"{URL}/{id}", headers=auth(token)).headers["ETag"]


def patch(client, auth, token, id, body, etag=None):
    etag = etag or etag_of(client, auth, token, id)
    return client.patch(f"{URL}/{id}", json=body, headers=auth(token, If_Match=etag))


# ---------------------------------------------------------------------- filing and following

def test_filing_answers_an_id_and_a_key_whose_hash_alone_is_stored(demo, client, services):
    response = client.post(URL, json=report(contact=PHONE))
    assert response.status_code == 201
    body = response.json
    assert body["state"] == "new" and body["closure"] == LEDU_GONGHE and body["key"].startswith("rk_")
    assert response.headers["Location"] == f"{URL}/{body['id']}"
    assert response.headers["Cache-Control"] == "no-store"
    assert "contact" not in body
    with services.store.engine.connect() as conn:
        row = conn.execute(sa.select(reports)).mappings().one()
    assert row["key_hash"] == hash_key(body["key"]) and body["key"] not in repr(dict(row))
    assert row["contact"] == PHONE_E164  # normalised


def test_the_key_follows_the_report_without_its_contact(demo, client, file):
    filed = file(contact=PHONE)
    response = client.get(filed["follow"])
    assert response.status_code == 200
    assert response.json["state"] == "new" and response.json["reply"] is None
    assert PHONE not in response.get_data(as_text=True) and PHONE_E164 not in response.get_data(as_text=True)
    assert "no-store" in response.headers["Cache-Control"]


def test_a_wrong_key_and_an_unknown_id_answer_the_same_404(demo, client, file):
    filed = file()
    wrong = client.get(f"{URL}/{filed['id']}?key=rk_wrong")
    unknown = client.get(f"{URL}/r0000000000000000?key={filed['key']}")
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.mimetype == "application/problem+json"


def test_a_point_on_a_closure_is_a_report_about_it(demo, client, file, auth, editor_token):
    filed = file(closure=None, point=point(ON_LINE))
    assert filed["closure"] == LEDU_GONGHE
    assert filed["point"] == point(ON_LINE)
    seen = client.get(f"{URL}/{filed['id']}", headers=auth(editor_token)).json
    assert seen["project"] == "dongguan-gas-2024"


def test_a_point_on_no_closure_goes_to_the_agency_of_the_nearest(demo, client, file, auth, editor_token,
                                                                   other_editor_token):
    filed = file(closure=None, point=point(NEAR))
    assert filed["closure"] is None
    mine = client.get(f"{URL}/{filed['id']}", headers=auth(editor_token))
    assert mine.status_code == 200 and mine.json["agency"] == AGENCY and mine.json["project"] is None
    assert client.get(f"{URL}/{filed['id']}", headers=auth(other_editor_token)).status_code == 404


def test_a_point_far_from_every_closure_goes_to_administrators(demo, client, file, auth, editor_token, admin_token):
    filed = file(closure=None, point=point(FAR))
    assert client.get(f"{URL}/{filed['id']}", headers=auth(editor_token)).status_code == 404
    seen = client.get(f"{URL}/{filed['id']}", headers=auth(admin_token)).json
    assert seen["agency"] is None and seen["closure"] is None
    assert [r["id"] for r in client.get(URL, headers=auth(admin_token)).json["reports"]] == [filed["id"]]
    assert client.get(URL, headers=auth(editor_token)).json["reports"] == []


def test_a_point_given_with_a_closure_is_kept_as_the_reporter_s(demo, client, file, auth, editor_token):
    filed = file(point=point([101.7950, 36.6114]))
    assert filed["closure"] == LEDU_GONGHE and filed["point"] == point([101.7950, 36.6114])
    plain = file()
    assert plain["point"] is None  # the queue still places it, at the closure's middle
    position = client.get(f"{URL}/{plain['id']}", headers=auth(editor_token)).json["position"]
    assert 101.7905 < position["coordinates"][0] < 101.7975


def test_an_e_mail_contact_is_kept_normalised(demo, client, file, auth, editor_token):
    filed = file(contact=EMAIL)
    seen = client.get(f"{URL}/{filed['id']}", headers=auth(editor_token)).json
    assert seen["contact"] == "Resident.Wang@example.org"


def test_text_is_kept_as_plain_text(demo, client, file):
    text = "<script>alert(1)</script> & <b>路</b>\r\n第二行"
    filed = file(text=text)
    assert client.get(filed["follow"]).json["text"] == "<script>alert(1)</script> & <b>路</b>\n第二行"


# ---------------------------------------------------------------------- bad input changes nothing

BAD = [
    (report(kind=None), "kind"),
    (report(kind="pothole"), "kind"),
    (report(text=None), "text"),
    (report(text="   "), "text"),
    (report(text="x" * 2001), "text"),
    (report(text="bad\x07bell"), "text"),
    (report(text="evil\u202etxt"), "text"),
    (report(text=7), "text"),
    (report(contact="not a phone"), "contact"),
    (report(contact="12345"), "contact"),
    (report(contact="a@"), "contact"),
    (report(contact="x" * 300), "contact"),
    (report(closure="no-such-closure"), "closure"),
    (report(closure=["dongguan-ledu-gonghe"]), "closure"),
    (report(closure=None), "closure"),
    (report(closure=None, point={"type": "LineString", "coordinates": [[0, 0], [1, 1]]}), "point"),
    (report(closure=None, point=point([36.61, 101.79])), "point.coordinates"),
    (report(closure=None, point=point(["a", 1])), "point.coordinates"),
    (report(website="http://spam.example"), "website"),
    (report(website={}), "website"),
    (report(priority="high"), "priority"),
    (["not", "an", "object"], ""),
]


@pytest.mark.parametrize("body, field", BAD, ids=[f"{f or 'body'}-{i}" for i, (_, f) in enumerate(BAD)])
def test_bad_reports_are_refused_naming_the_field_and_change_nothing(demo, client, snapshot, body, field):
    before = snapshot()
    sequence = demo.store.sequence()
    response = client.post(URL, json=body)
    assert response.status_code == 422, response.json
    assert response.mimetype == "application/problem+json"
    assert field in response.json["errors"]
    assert snapshot() == before and demo.store.sequence() == sequence


def test_a_draft_closure_cannot_be_reported(demo, client, auth, editor_token, closure_body, snapshot):
    draft = closure_body("draft-one", publish_at="2024-12-01")
    assert client.post("/api/v1/closures", json=draft, headers=auth(editor_token)).status_code == 201
    before = snapshot()
    response = client.post(URL, json=report(closure="draft-one"))
    assert response.status_code == 422 and "closure" in response.json["errors"]
    assert "draft" not in response.json["detail"] and snapshot() == before


def test_an_oversized_body_is_refused_with_the_cap(demo, client, snapshot):
    before = snapshot()
    response = client.post(URL, json=report(text="x" * 9000))
    assert response.status_code == 413 and "8192" in response.json["detail"]
    assert "body" in response.json["errors"] and snapshot() == before


@pytest.mark.parametrize("data, content_type, status", [
    (b"{not json", "application/json", 400), (b"kind=other", "application/x-www-form-urlencoded", 415)])
def test_a_body_that_is_not_json_is_a_problem(demo, client, snapshot, data, content_type, status):
    before = snapshot()
    response = client.post(URL, data=data, content_type=content_type)
    assert response.status_code == status and response.mimetype == "application/problem+json"
    assert snapshot() == before


# ---------------------------------------------------------------------- the bureau's queue

def test_the_queue_needs_an_editor_or_admin(demo, client, file, auth, services):
    from roadworks.auth import create_token

    file()
    partner, _ = create_token(services.store, role="partner", name="taxi", agency=None, now=services.clock())
    assert client.get(URL).status_code == 401
    assert client.get(URL, headers=auth(partner)).status_code == 403
    assert client.get(f"{URL}/r0000000000000000", headers=auth(partner)).status_code == 403


def test_editors_see_their_agency_s_reports_and_admins_all(demo, client, file, auth, editor_token,
                                                          other_editor_token, admin_token):
    filed = file(contact=PHONE)
    mine = client.get(URL, headers=auth(editor_token)).json["reports"]
    assert [r["id"] for r in mine] == [filed["id"]] and mine[0]["contact"] == PHONE_E164
    assert client.get(URL, headers=auth(other_editor_token)).json["reports"] == []
    assert client.get(f"{URL}/{filed['id']}", headers=auth(other_editor_token)).status_code == 404
    assert [r["id"] for r in client.get(URL, headers=auth(admin_token)).json["reports"]] == [filed["id"]]


def test_the_queue_is_newest_first_and_pages_with_a_cursor(demo, client, file, clock, auth, editor_token):
    ids = []
    for minute in range(5):
        clock.advance(minutes=1)
        ids.append(file(closure="dongguan-ledu-nanxiao" if minute % 2 else LEDU_GONGHE)["id"])
    first = client.get(f"{URL}?limit=2", headers=auth(editor_token)).json
    assert first["total"] == 5
    assert [r["id"] for r in first["reports"]] == ids[::-1][:2]
    second = client.get(first["next"], headers=auth(editor_token)).json
    third = client.get(second["next"], headers=auth(editor_token)).json
    assert [r["id"] for r in second["reports"] + third["reports"]] == ids[::-1][2:]
    assert third["next"] is None


def test_the_queue_filters_by_state_closure_project_and_bbox(demo, client, file, auth, editor_token):
    on_closure = file()["id"]
    near = file(closure=None, point=point(NEAR))["id"]
    acknowledged = file(closure="dongguan-yangjia-jianguo")["id"]
    assert patch(client, auth, editor_token, acknowledged, {"state": "acknowledged"}).status_code == 200

    def ids(query):
        response = client.get(f"{URL}?{query}", headers=auth(editor_token))
        assert response.status_code == 200, response.json
        return {r["id"] for r in response.json["reports"]}

    assert ids("state=new") == {on_closure, near}
    assert ids("state=acknowledged,resolved") == {acknowledged}
    assert ids(f"closure={LEDU_GONGHE}") == {on_closure}
    assert ids("project=dongguan-gas-2024") == {on_closure, acknowledged}
    assert ids("bbox=101.79,36.615,101.80,36.625") == {near}


@pytest.mark.parametrize("query, field", [("state=open", "state"), ("bbox=1,2,3", "bbox"), ("limit=1000", "limit"),
                                          ("cursor=nonsense", "cursor"), ("colour=red", "colour")])
def test_bad_queue_queries_are_problems_naming_the_field(demo, client, auth, editor_token, query, field):
    response = client.get(f"{URL}?{query}", headers=auth(editor_token))
    assert response.status_code == 400 and field in response.json["errors"]


def test_many_reports_on_one_closure_in_a_short_time_are_one_group(demo, client, file, clock, auth, editor_token):
    burst = []
    for _ in range(4):
        clock.advance(minutes=20)
        burst.append(file()["id"])
    clock.advance(hours=7)  # past the grouping span: a new problem
    later = file()["id"]
    clock.advance(minutes=1)
    lone = file(closure="dongguan-yangjia-jianguo")["id"]
    queue = client.get(URL, headers=auth(editor_token)).json["reports"]
    groups = {r["id"]: r["group"] for r in queue}
    assert {groups[i]["id"] for i in burst} == {burst[0]} and groups[burst[-1]]["size"] == 4
    assert groups[later]["size"] == 1 and groups[lone]["size"] == 1
    grouped_answer = client.get(f"{URL}?grouped=true", headers=auth(editor_token)).json
    grouped = grouped_answer["reports"]
    assert grouped_answer["total"] == 3
    assert [(r["id"], r["group"]["size"]) for r in grouped] == [(lone, 1), (later, 1), (burst[-1], 4)]
    members = client.get(f"{URL}?group={burst[0]}", headers=auth(editor_token)).json["reports"]
    assert {r["id"] for r in members} == set(burst)


# ---------------------------------------------------------------------- answering

def test_answering_moves_the_state_and_records_who_when_what(demo, client, file, clock, auth, editor_token):
    filed = file(contact=PHONE)
    clock.advance(hours=1)
    acknowledged = patch(client, auth, editor_token, filed["id"], {"state": "acknowledged", "reply": "已收到，正在核实。"})
    assert acknowledged.status_code == 200 and acknowledged.json["version"] == 2
    clock.advance(hours=2)
    resolved = patch(client, auth, editor_token, filed["id"],
                     {"state": "resolved", "reply": "已核实：路段5月31日已开放，地图已更新。"}, acknowledged.headers["ETag"])
    assert resolved.status_code == 200
    history = resolved.json["history"]
    assert [(h["action"], h["by"]) for h in history] == [
        ("created", "resident"), ("acknowledged", "Construction bureau desk"), ("resolved", "Construction bureau desk")]
    assert history[1]["changes"]["state"] == ["new", "acknowledged"]
    assert history[2]["changes"]["reply"] == ["已收到，正在核实。", "已核实：路段5月31日已开放，地图已更新。"]
    assert history[2]["at"] == "2024-05-20T15:00:00+08:00"
    assert all(PHONE_E164 not in repr(h) for h in history)
    followed = client.get(filed["follow"]).json
    assert followed["state"] == "resolved" and followed["reply"].startswith("已核实")


@pytest.mark.parametrize("body, field", [
    ({"state": "done"}, "state"), ({"state": "resolved"}, "reply"), ({"reply": "x" * 2001}, "reply"),
    ({"reply": "a\x00b"}, "reply"), ({"contact": "x"}, "contact"), ({}, "")])
def test_bad_answers_are_refused_naming_the_field(demo, client, file, auth, editor_token, snapshot, body, field):
    filed = file()
    before = snapshot()
    response = patch(client, auth, editor_token, filed["id"], body)
    assert response.status_code == 422 and field in response.json["errors"]
    assert snapshot() == before


def test_closed_reports_do_not_go_back(demo, client, file, auth, editor_token):
    filed = file()
    assert patch(client, auth, editor_token, filed["id"], {"state": "rejected", "reply": "不属实"}).status_code == 200
    response = patch(client, auth, editor_token, filed["id"], {"state": "acknowledged"})
    assert response.status_code == 422 and "state" in response.json["errors"]


def test_answers_need_if_match_and_refuse_a_stale_one(demo, client, file, auth, editor_token, snapshot):
    filed = file()
    old = etag_of(client, auth, editor_token, filed["id"])
    before = snapshot()
    response = client.patch(f"{URL}/{filed['id']}", json={"state": "acknowledged"}, headers=auth(editor_token))
    assert response.status_code == 428 and snapshot() == before
    assert patch(client, auth, editor_token, filed["id"], {"state": "acknowledged"}, old).status_code == 200
    before = snapshot()
    stale = patch(client, auth, editor_token, filed["id"], {"reply": "?"}, old)
    assert stale.status_code == 412 and snapshot() == before


def test_other_agencies_and_residents_cannot_answer(demo, client, file, auth, editor_token, other_editor_token,
                                                    snapshot):
    filed = file()
    etag = etag_of(client, auth, editor_token, filed["id"])
    before = snapshot()
    assert patch(client, auth, other_editor_token, filed["id"], {"state": "acknowledged"}, etag).status_code == 404
    assert client.patch(f"{URL}/{filed['id']}", json={"state": "acknowledged"},
                        headers={"If-Match": etag}).status_code == 401
    assert snapshot() == before


# ---------------------------------------------------------------------- counts on the public closure

def counts(client, id=LEDU_GONGHE) -> dict:
    return client.get(f"/api/v1/closures/{id}").json["properties"]["reports"]


def listed_counts(client, id=LEDU_GONGHE) -> dict:
    found = client.get("/api/v1/closures?status=all").json["features"]
    return next(f["properties"]["reports"] for f in found if f["id"] == id)


def test_public_closures_carry_counts_by_state_and_move_with_reports(demo, client, file, auth, editor_token):
    zero = {"new": 0, "acknowledged": 0, "resolved": 0, "rejected": 0}
    assert counts(client) == zero and listed_counts(client) == zero
    etag = client.get(f"/api/v1/closures/{LEDU_GONGHE}").headers["ETag"]
    first, _ = file()["id"], file()
    assert counts(client) == dict(zero, new=2) and listed_counts(client) == dict(zero, new=2)
    assert client.get(f"/api/v1/closures/{LEDU_GONGHE}", headers={"If-None-Match": etag}).status_code == 200
    patch(client, auth, editor_token, first, {"state": "resolved", "reply": "已处理"})
    assert counts(client) == dict(zero, new=1, resolved=1) and listed_counts(client) == dict(zero, new=1, resolved=1)
    assert counts(client, "dongguan-ledu-nanxiao") == zero


def test_last_modified_moves_with_the_closure_s_reports(demo, client, file, clock):
    clock.advance(minutes=1)
    before = client.get(f"/api/v1/closures/{LEDU_GONGHE}")
    assert before.headers["Last-Modified"] == "Mon, 20 May 2024 04:00:00 GMT"  # the demo's writes
    clock.advance(minutes=4)
    file()
    clock.advance(minutes=1)
    after = client.get(f"/api/v1/closures/{LEDU_GONGHE}", headers={"If-Modified-Since": before.headers["Last-Modified"]})
    assert after.status_code == 200
    assert after.headers["Last-Modified"] == "Mon, 20 May 2024 04:05:00 GMT"


def test_counts_show_in_every_worker_at_once(demo, client, make_app, file):
    other = make_app().test_client()  # another process's app on the same database
    assert counts(other)["new"] == 0
    file()
    assert counts(other)["new"] == 1


def test_reports_leave_the_change_feed_alone(demo, client, file, auth, editor_token):
    before = client.get("/api/v1/changes").json
    filed = file(contact=PHONE)
    patch(client, auth, editor_token, filed["id"], {"state": "acknowledged"})
    after = client.get("/api/v1/changes").json
    assert after["changes"] == before["changes"]
    # The next closure change is numbered right after the last one: no gap where the reports were.
    etag = client.get("/api/v1/closures/dongguan-ledu-nanxiao", headers=auth(editor_token)).headers["ETag"]
    assert client.patch("/api/v1/closures/dongguan-ledu-nanxiao", json={"properties": {"detour": "绕行"}},
                        headers=auth(editor_token, If_Match=etag)).status_code == 200
    numbers = [c["seq"] for c in client.get("/api/v1/changes").json["changes"]]
    assert numbers == list(range(1, len(numbers) + 1))


# ---------------------------------------------------------------------- limits

def test_filings_per_address_are_limited_more_strictly_than_reads(demo, make_app, snapshot):
    client = make_app(REPORT_RATE_LIMIT="2 per minute").test_client()
    for _ in range(2):
        assert client.post(URL, json=report()).status_code == 201
    before = snapshot()
    refused = client.post(URL, json=report())
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "REPORT_RATE_LIMIT" in refused.json["detail"] and snapshot() == before
    assert client.get(f"/api/v1/closures/{LEDU_GONGHE}").status_code == 200  # reads go on
    other_address = client.post(URL, json=report(), environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other_address.status_code == 201


def test_the_report_budget_is_shared_through_redis(demo, make_app, redis_prefix):
    prefix, _ = redis_prefix
    settings = dict(REPORT_RATE_LIMIT="2 per minute", REDIS_URL=_redis_url(), RATE_LIMIT_PREFIX=prefix)
    one, two = make_app(**settings).test_client(), make_app(**settings).test_client()
    assert one.post(URL, json=report()).status_code == 201
    assert two.post(URL, json=report()).status_code == 201
    assert one.post(URL, json=report()).status_code == 429


def _redis_url() -> str:
    from tests.conftest import REDIS_URL
    return REDIS_URL


def test_a_bad_report_rate_limit_stops_the_app_with_the_variable_named(app, database_url):
    with pytest.raises(ValidationFailed) as failure:
        create_app({"DATABASE_URL": database_url, "MIGRATE": False, "REPORT_RATE_LIMIT": "lots"})
    assert "ROADWORKS_REPORT_RATE_LIMIT" in failure.value.errors


# ---------------------------------------------------------------------- erasure of contacts

def test_contacts_are_erased_180_days_after_a_report_is_closed(demo, client, file, clock, auth, editor_token,
                                                                services):
    closed, still_open = file(contact=PHONE)["id"], file(contact=EMAIL)["id"]
    patch(client, auth, editor_token, closed, {"state": "resolved", "reply": "已处理"})
    clock.advance(days=179, hours=23)
    assert erase_contacts(services.reports, clock()) == []
    assert client.get(f"{URL}/{closed}", headers=auth(editor_token)).json["contact"] == PHONE_E164
    clock.advance(hours=1)
    assert erase_contacts(services.reports, clock()) == [closed]
    seen = client.get(f"{URL}/{closed}", headers=auth(editor_token)).json
    assert seen["contact"] is None and seen["contact_erased"] is True
    assert seen["history"][-1]["action"] == "contact-erased" and seen["history"][-1]["by"] == "retention"
    assert client.get(f"{URL}/{still_open}", headers=auth(editor_token)).json["contact"] == "Resident.Wang@example.org"
    assert erase_contacts(services.reports, clock.advance(days=1)) == []  # once is enough


def test_the_periodic_job_of_serve_erases_due_contacts(demo, client, file, clock, auth, editor_token, services):
    filed = file(contact=PHONE)["id"]
    patch(client, auth, editor_token, filed, {"state": "resolved", "reply": "已处理"})
    clock.advance(days=180)
    job = start_eraser(services.reports, clock, 0.05)
    try:
        deadline = time.monotonic() + 10
        while client.get(f"{URL}/{filed}", headers=auth(editor_token)).json["contact"] is not None:
            assert time.monotonic() < deadline, "the job did not erase the due contact"
            time.sleep(0.05)
    finally:
        job.stop.set()
        job.join(5)
    assert not job.is_alive()


def test_the_command_erases_due_contacts(demo, client, file, auth, editor_token, services, database_url):
    filed = file(contact=PHONE)["id"]
    patch(client, auth, editor_token, filed, {"state": "rejected", "reply": "不属实"})
    with services.store.engine.begin() as conn:  # closed long ago: the command runs on the real clock
        conn.execute(reports.update().values(closed_at=services.clock() - timedelta(days=181)))
    result = CliRunner().invoke(main, ["reports", "erase-contacts"], env={"ROADWORKS_DATABASE_URL": database_url},
                                catch_exceptions=False)
    assert result.exit_code == 0 and "erased the contact of 1 reports" in result.output
    with services.store.engine.connect() as conn:
        assert conn.execute(sa.select(reports.c.contact)).scalar_one() is None
        assert conn.execute(sa.select(sa.func.count()).select_from(report_history)
                            .where(report_history.c.action == "contact-erased")).scalar_one() == 1


# ---------------------------------------------------------------------- privacy after a full round

PUBLIC_READS = [
    "/api/v1/closures?status=all", f"/api/v1/closures/{LEDU_GONGHE}", f"/api/v1/closures/{LEDU_GONGHE}/history",
    "/api/v1/projects", "/api/v1/projects/dongguan-gas-2024", "/api/v1/changes", "/feeds/wzdx.geojson",
    "/feeds/waze.json", "/feeds/waze.xml", "/feeds/closures.ics", "/open511/events?status=ALL",
    "/ogc/collections/closures/items", f"/ogc/collections/closures/items/{LEDU_GONGHE}", "/metrics",
]


def test_the_contact_never_shows_in_public_answers_logs_or_metrics(demo, client, auth, editor_token, caplog):
    caplog.set_level(logging.DEBUG)
    secrets_ = (PHONE, PHONE_E164, "13912345678"[3:], "resident.wang", "Resident.Wang")
    filed = client.post(URL, json=report(contact=PHONE)).json
    other = client.post(URL, json=report(closure=None, point=point(NEAR), contact=EMAIL)).json
    patch(client, auth, editor_token, filed["id"], {"state": "acknowledged", "reply": "正在核实"})
    patch(client, auth, editor_token, other["id"], {"state": "resolved", "reply": "已处理"})
    bodies = {path: client.get(path).get_data(as_text=True) for path in PUBLIC_READS}
    bodies["follow"] = client.get(filed["follow"]).get_data(as_text=True)
    bodies["follow other"] = client.get(other["follow"]).get_data(as_text=True)
    for path, text in bodies.items():
        assert not any(s.lower() in text.lower() for s in secrets_), path
    assert '"reports"' in bodies[f"/api/v1/closures/{LEDU_GONGHE}"]  # the counts are there, nothing else
    logged = "\n".join(r.getMessage() + repr(vars(r)) for r in caplog.records)
    assert caplog.records and not any(s.lower() in logged.lower() for s in secrets_)
