"""Partner push subscriptions (roadworks/api/subscriptions.py): who may, what is checked, what is shown."""

from __future__ import annotations

import pytest

from roadworks.auth import create_token

SUBS = "/api/v1/subscriptions"
PROBLEM = "application/problem+json"


@pytest.fixture
def partner(services):
    def make(name="Taxi app"):
        plain, _ = create_token(services.store, role="partner", name=name, agency=None, now=services.clock())
        return {"Authorization": f"Bearer {plain}"}
    return make


@pytest.fixture
def private_client(make_app):
    return make_app(WEBHOOK_ALLOW_PRIVATE=1).test_client()


def test_anonymous_and_editor_tokens_may_not_subscribe(client, auth, editor_token):
    assert client.post(SUBS, json={"url": "https://93.184.215.14/h"}).status_code == 401
    refused = client.post(SUBS, json={"url": "https://93.184.215.14/h"}, headers=auth(editor_token))
    assert refused.status_code == 403 and refused.mimetype == PROBLEM


@pytest.mark.parametrize("url, reason", [
    ("ftp://93.184.215.14/h", "only http and https"),
    ("http://127.0.0.1:9/h", "private, loopback or link-local"),
    ("http://169.254.169.254/latest", "private, loopback or link-local"),
    ("http://10.1.2.3/h", "private, loopback or link-local"),
    ("http://[::1]/h", "private, loopback or link-local"),
    ("http://[::ffff:192.168.0.1]/h", "private, loopback or link-local"),
    ("https://user:pw@93.184.215.14/h", "credentials"),
    ("not a url", "only http and https"),
])
def test_urls_are_checked_and_refusals_change_nothing(client, partner, snapshot, url, reason):
    before = snapshot()
    refused = client.post(SUBS, json={"url": url}, headers=partner())
    assert refused.status_code == 422 and refused.mimetype == PROBLEM
    assert reason in refused.json["errors"]["url"][0]
    assert snapshot() == before


@pytest.mark.parametrize("body, field", [
    ({"events": ["closure.exploded"]}, "events"), ({"events": []}, "events"),
    ({"bbox": [1, 2, 3]}, "bbox"), ({"bbox": [10, 50, 5, 60]}, "bbox"), ({"road": ""}, "road"),
    ({"project": 5}, "project"), ({"colour": "red"}, "colour"),
])
def test_bad_fields_are_named(private_client, partner, body, field):
    refused = private_client.post(SUBS, json={"url": "http://127.0.0.1:9/h", **body}, headers=partner())
    assert refused.status_code == 422 and field in refused.json["errors"]


def test_the_secret_is_shown_once_and_only_the_owner_sees_a_subscription(private_client, partner, admin_token, auth):
    mine, other = partner("one"), partner("two")
    made = private_client.post(SUBS, json={"url": "http://127.0.0.1:9/h", "bbox": [101.7, 36.5, 101.9, 36.7]},
                               headers=mine)
    assert made.status_code == 201 and made.json["secret"].startswith("whsec_")
    assert made.headers["Location"].endswith(made.json["id"])
    assert made.json["events"][0] == "closure.created" and made.json["bbox"] == [101.7, 36.5, 101.9, 36.7]
    shown = private_client.get(f"{SUBS}/{made.json['id']}", headers=mine)
    assert shown.status_code == 200 and "secret" not in shown.json and shown.json["deliveries"] == []
    assert private_client.get(f"{SUBS}/{made.json['id']}", headers=other).status_code == 404
    assert private_client.get(SUBS, headers=other).json["subscriptions"] == []
    assert [s["id"] for s in private_client.get(SUBS, headers=auth(admin_token)).json["subscriptions"]] == \
        [made.json["id"]]


def test_pause_needs_if_match_and_delete_forgets(private_client, partner):
    mine = partner()
    made = private_client.post(SUBS, json={"url": "http://127.0.0.1:9/h"}, headers=mine).json
    path = f"{SUBS}/{made['id']}"
    assert private_client.patch(path, json={"state": "paused"}, headers=mine).status_code == 428
    etag = private_client.get(path, headers=mine).headers["ETag"]
    paused = private_client.patch(path, json={"state": "paused"}, headers={**mine, "If-Match": etag})
    assert paused.status_code == 200 and paused.json["state"] == "paused"
    assert private_client.patch(path, json={"state": "active"}, headers={**mine, "If-Match": etag}).status_code == 412
    assert private_client.patch(path, json={"state": "gone"},
                                headers={**mine, "If-Match": paused.headers["ETag"]}).status_code == 422
    gone = private_client.delete(path, headers={**mine, "If-Match": paused.headers["ETag"]})
    assert gone.status_code == 204 and private_client.get(path, headers=mine).status_code == 404


def test_redelivery_and_rotation_check_their_input(private_client, partner):
    mine = partner()
    made = private_client.post(SUBS, json={"url": "http://127.0.0.1:9/h"}, headers=mine).json
    bad = private_client.post(f"{SUBS}/{made['id']}/redeliver", json={"from_seq": 10 ** 6}, headers=mine)
    assert bad.status_code == 422 and "from_seq" in bad.json["errors"]
    long = private_client.post(f"{SUBS}/{made['id']}/secret", json={"overlap_seconds": 10 ** 9}, headers=mine)
    assert long.status_code == 422 and "overlap_seconds" in long.json["errors"]


def test_a_token_holds_a_capped_number_of_subscriptions(private_client, partner, monkeypatch):
    from roadworks.api import subscriptions

    monkeypatch.setattr(subscriptions, "MAX_PER_TOKEN", 2)
    mine = partner()
    for _ in range(2):
        assert private_client.post(SUBS, json={"url": "http://127.0.0.1:9/h"}, headers=mine).status_code == 201
    over = private_client.post(SUBS, json={"url": "http://127.0.0.1:9/h"}, headers=mine)
    assert over.status_code == 400 and "MAX_PER_TOKEN" in over.json["detail"]
