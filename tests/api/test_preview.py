"""POST /api/v1/schedule/preview: the same periods and statuses a stored closure gets, nothing written."""

from __future__ import annotations

from tests.conftest import AGENCY  # noqa: F401 - the agency of the editor token

PHASE = {"windows": [{"start": "2024-04-12", "end": "2024-06-05", "label": "phase 1"}]}


def preview(client, **body):
    return client.post("/api/v1/schedule/preview", json=body)


def test_an_early_reopening_ends_the_periods_and_the_status_turns_completed(client):
    answer = preview(client, schedule=PHASE, actual_end="2024-05-31", **{"from": "2024-04-01", "to": "2024-06-30"})
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["periods"] == [{"start": "2024-04-12T00:00:00+08:00", "end": "2024-05-31T00:00:00+08:00",
                                "state": "active", "window": 0, "label": "phase 1"}]
    assert [(s["at"][:10], s["status"]) for s in body["statuses"]] == [
        ("2024-04-01", "upcoming"), ("2024-04-12", "active"), ("2024-05-31", "completed")]
    assert body["truncated"] is False


def test_the_projects_pause_shows_as_a_paused_period(client, auth, editor_token):
    made = client.post("/api/v1/projects", headers=auth(editor_token), json={
        "name": "东关大街燃气管网提升改造项目",
        "pauses": [{"start": "2024-06-01", "end": "2024-08-31", "reason": "tourist season"}]})
    project = made.get_json()["id"]
    schedule = {"windows": [{"start": "2024-04-01", "end": "2024-10-31"}]}
    body = preview(client, schedule=schedule, project=project, **{"from": "2024-04-01", "to": "2024-10-31"}).get_json()
    assert [(p["start"][:10], p["end"][:10], p["state"]) for p in body["periods"]] == [
        ("2024-04-01", "2024-06-01", "active"), ("2024-06-01", "2024-09-01", "paused"),
        ("2024-09-01", "2024-11-01", "active")]
    assert [s["status"] for s in body["statuses"]] == ["active", "paused", "active"]


def test_it_agrees_with_the_stored_closure(client, auth, editor_token, clock):
    project = client.post("/api/v1/projects", headers=auth(editor_token), json={"name": "P"}).get_json()["id"]
    schedule = {"windows": [{"start": "2024-05-01", "end": "2024-07-31"}],
                "hours": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "22:00", "end": "06:00"}]}
    feature = {"type": "Feature", "geometry": {"type": "LineString",
                                               "coordinates": [[101.7905, 36.6116], [101.7975, 36.6113]]},
               "properties": {"project": project, "road": "东关大街", "schedule": schedule}}
    stored = client.post("/api/v1/closures", headers=auth(editor_token), json=feature).get_json()["properties"]
    body = preview(client, schedule=schedule, project=project,
                   **{"from": clock.now.isoformat(), "to": "2024-06-30"}).get_json()
    assert body["statuses"][0]["status"] == stored["status"]
    assert body["statuses"][1]["at"] == stored["next_change"]


def test_an_interval_past_the_cap_is_refused_naming_it(client):
    answer = preview(client, schedule=PHASE, **{"from": "2024-01-01", "to": "2034-01-01"})
    assert answer.status_code in (400, 422)
    assert "MAX_INTERVAL_DAYS" in answer.get_json()["errors"]["to"][0]


def test_bad_input_names_the_field(client):
    answer = preview(client, schedule={"windows": [{"start": "2024-06-05", "end": "2024-04-12"}]},
                     **{"from": "2024-01-01", "to": "2024-12-31"})
    assert answer.status_code == 422
    assert any(path.startswith("schedule.windows[0]") for path in answer.get_json()["errors"])
    unknown = preview(client, schedule=PHASE, project="nope", **{"from": "2024-01-01", "to": "2024-02-01"})
    assert unknown.status_code == 422 and "project" in unknown.get_json()["errors"]
    backwards = preview(client, schedule=PHASE, **{"from": "2024-03-01", "to": "2024-02-01"})
    assert "to" in backwards.get_json()["errors"]


def test_it_is_in_the_openapi_spec(client):
    assert "/api/v1/schedule/preview" in client.get("/openapi.json").get_json()["paths"]
