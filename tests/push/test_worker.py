"""The delivery worker (roadworks/push/worker.py) against a real receiver: signatures, order, retries, give-up."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from roadworks.push import addresses
from roadworks.push import worker as worker_module

CLOSURES = "/api/v1/closures"


@pytest.fixture
def editor(push_client, auth, editor_token, project_body):
    """Writes through the API as the bureau: editor.closure(body) -> id."""

    class Editor:
        def project(self):
            response = push_client.post("/api/v1/projects", json=project_body, headers=auth(editor_token))
            assert response.status_code == 201, response.get_data(as_text=True)

        def closure(self, body):
            response = push_client.post(CLOSURES, json=body, headers=auth(editor_token))
            assert response.status_code == 201, response.get_data(as_text=True)
            response.close()  # as a server does once the answer is sent: the worker is woken then
            return response.json["id"]

        def patch(self, id, patch):
            etag = push_client.get(f"{CLOSURES}/{id}").headers["ETag"]
            response = push_client.patch(f"{CLOSURES}/{id}", json=patch, headers=auth(editor_token, If_Match=etag))
            assert response.status_code == 200, response.get_data(as_text=True)

    made = Editor()
    made.project()
    return made


def test_a_write_is_delivered_signed_and_verifiable(receiver, subscribe, editor, closure_body, start_worker):
    sub = subscribe(receiver.url, events=["closure.created"])
    assert sub["secret"].startswith("whsec_")
    start_worker()
    id = editor.closure(closure_body())
    got = receiver.wait_for(1)
    assert len(got) == 1
    payload = Webhook(sub["secret"]).verify(got[0]["body"], got[0]["headers"])
    assert payload["type"] == "closure.created" and payload["data"]["id"] == id
    assert payload["data"]["action"] == "create" and payload["data"]["data"]["properties"]["road"] == "东关大街"
    assert isinstance(payload["seq"], int)
    with pytest.raises(Exception):
        Webhook("whsec_" + "QUJD" * 8).verify(got[0]["body"], got[0]["headers"])


def test_events_come_in_seq_order(receiver, subscribe, editor, closure_body, start_worker):
    subscribe(receiver.url)
    ids = [editor.closure(closure_body(road=f"road {n}")) for n in range(5)]
    start_worker()
    editor.patch(ids[0], {"properties": {"description": "moved"}})
    got = receiver.wait_for(6)
    bodies = [b for b in receiver.delivered() if b["type"] != "closure.status_changed"]
    seqs = [b["seq"] for b in receiver.delivered()]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert [b["data"]["id"] for b in bodies] == ids + [ids[0]]
    assert bodies[-1]["type"] == "closure.updated"
    assert len(got) >= 6


def test_filters_pick_events(receiver, subscribe, editor, closure_body, start_worker):
    subscribe(receiver.url, road="ROAD 2", events=["closure.created"])
    start_worker()
    for n in range(4):
        editor.closure(closure_body(road=f"road {n}"))
    got = receiver.wait_for(1)
    time.sleep(0.5)
    assert [b["data"]["data"]["properties"]["road"] for b in receiver.delivered()] == ["road 2"]
    assert len(got) == 1


def recorded(push_services, sub_id: str, count: int, timeout: float = 10.0) -> list[dict]:
    """The subscription's delivery log once it holds `count` rows (outcomes are recorded after the answer)."""
    deadline = time.time() + timeout
    while True:
        rows = push_services.push.deliveries(sub_id, 50)
        if len(rows) >= count or time.time() > deadline:
            return rows
        time.sleep(0.02)


def test_a_failed_delivery_is_retried_with_the_same_webhook_id(receiver, subscribe, editor, closure_body,
                                                               start_worker, clock, push_services):
    receiver.statuses = [500, 503]
    sub = subscribe(receiver.url, events=["closure.created"])
    start_worker()
    editor.closure(closure_body())
    assert len(recorded(push_services, sub["id"], 1)) == 1
    clock.advance(seconds=7)  # past the first back-off (about 5 s)
    assert len(recorded(push_services, sub["id"], 2)) == 2
    clock.advance(seconds=40)  # past the second (about 30 s)
    got = receiver.wait_for(1)
    assert [r["status"] for r in receiver.received] == [500, 503, 200]
    assert len({r["headers"]["webhook-id"] for r in receiver.received}) == 1
    assert len(got) == 1


def test_back_off_grows_to_hourly_with_jitter():
    waits = [worker_module.backoff(n).total_seconds() for n in range(1, 9)]
    assert 4 <= waits[0] <= 6 and 24 <= waits[1] <= 36
    assert all(2880 <= w <= 4320 for w in waits[5:])


def test_the_host_header_is_the_urls_host_with_its_port_unless_the_schemes_own():
    def host(url):
        return worker_module.authority(addresses.destination(url, allow_private=True))

    assert host("https://93.184.215.14/hook") == "93.184.215.14"
    assert host("https://93.184.215.14:8443/hook") == "93.184.215.14:8443"
    assert host("http://[::1]:80/hook") == "[::1]" and host("https://[::1]:80/hook") == "[::1]:80"


def test_after_24_hours_of_failures_the_subscription_is_failing(receiver, subscribe, editor, closure_body,
                                                                start_worker, clock, push_client, partner_token):
    receiver.status = 500
    sub = subscribe(receiver.url, events=["closure.created"])
    start_worker()
    editor.closure(closure_body())
    receiver.wait_for(1, ok_only=False)
    time.sleep(0.2)
    headers = {"Authorization": f"Bearer {partner_token}"}
    for _ in range(40):
        state = push_client.get(f"/api/v1/subscriptions/{sub['id']}", headers=headers).json
        if state["state"] == "failing":
            break
        clock.advance(hours=1, minutes=15)
        time.sleep(0.15)
    assert state["state"] == "failing"
    assert state["failures"][0]["outcome"] == "gave-up"
    attempts = len(receiver.received)
    clock.advance(hours=2)
    time.sleep(0.4)
    assert len(receiver.received) == attempts  # given up: no more tries until resumed
    receiver.status = 200
    etag = push_client.get(f"/api/v1/subscriptions/{sub['id']}", headers=headers).headers["ETag"]
    resumed = push_client.patch(f"/api/v1/subscriptions/{sub['id']}", json={"state": "active"},
                                headers={**headers, "If-Match": etag})
    assert resumed.status_code == 200 and resumed.json["state"] == "active"
    assert len(receiver.wait_for(1)) == 1


def test_a_hanging_receiver_slows_neither_writes_nor_other_subscriptions(receiver, subscribe, editor, closure_body,
                                                                         start_worker):
    from tests.push.conftest import Receiver

    quick = Receiver()
    try:
        receiver.hang.set()
        subscribe(receiver.url, events=["closure.created"])
        subscribe(quick.url, events=["closure.created"])
        start_worker(read_timeout=20)
        timings = []
        for n in range(5):
            started = time.perf_counter()
            editor.closure(closure_body(road=f"road {n}"))
            timings.append(time.perf_counter() - started)
        assert len(quick.wait_for(5, timeout=5)) == 5
        assert max(timings) < 0.5
    finally:
        quick.close()
        receiver.release.set()  # so the worker's stop does not wait out the read timeout of the hung delivery


def test_two_workers_deliver_each_event_once(receiver, subscribe, editor, closure_body, start_worker):
    subscribe(receiver.url, events=["closure.created"])
    start_worker()
    start_worker()
    for n in range(10):
        editor.closure(closure_body(road=f"road {n}"))
    receiver.wait_for(10)
    time.sleep(0.5)
    ids = [r["headers"]["webhook-id"] for r in receiver.received]
    assert len(ids) == 10 and len(set(ids)) == 10


def test_a_rotated_secret_signs_twice_during_the_overlap(receiver, subscribe, editor, closure_body, start_worker,
                                                         push_client, partner_token):
    sub = subscribe(receiver.url, events=["closure.created"])
    rotated = push_client.post(f"/api/v1/subscriptions/{sub['id']}/secret", json={"overlap_seconds": 3600},
                               headers={"Authorization": f"Bearer {partner_token}"})
    assert rotated.status_code == 200 and rotated.json["secret"] != sub["secret"]
    start_worker()
    editor.closure(closure_body())
    got = receiver.wait_for(1)[0]
    assert len(got["headers"]["webhook-signature"].split(" ")) == 2
    for secret in (sub["secret"], rotated.json["secret"]):
        assert Webhook(secret).verify(got["body"], got["headers"])["type"] == "closure.created"


def test_redelivery_from_a_seq(receiver, subscribe, editor, closure_body, start_worker, push_client, partner_token):
    sub = subscribe(receiver.url, events=["closure.created"])
    start_worker()
    for n in range(3):
        editor.closure(closure_body(road=f"road {n}"))
    first = receiver.wait_for(3)
    seqs = [b["seq"] for b in receiver.delivered()]
    asked = push_client.post(f"/api/v1/subscriptions/{sub['id']}/redeliver", json={"from_seq": seqs[1]},
                             headers={"Authorization": f"Bearer {partner_token}"})
    assert asked.status_code == 200, asked.get_data(as_text=True)
    receiver.wait_for(5)
    assert [b["seq"] for b in receiver.delivered()] == seqs + seqs[1:]
    assert len(first) == 3


def test_a_url_that_now_resolves_privately_is_refused_at_delivery(receiver, subscribe, editor, closure_body,
                                                                  start_worker, push_services):
    subscribe(receiver.url, events=["closure.created"])
    worker = start_worker()
    worker.allow_private = False  # as if the name had been re-pointed to our network since subscribing
    editor.closure(closure_body())
    time.sleep(0.6)
    assert receiver.received == []
    rows = push_services.push.deliveries(push_services.push.subscriptions(None, 10)[0]["id"], 5)
    assert rows and rows[0]["error"].startswith("refused:")


@pytest.fixture
def connections(monkeypatch):
    """The (host, port) of every connection urllib3 opens. Names and loopback addresses are dialled (a name
    through the resolver, as an unguarded client would); other addresses are refused, so no test leaves the
    machine."""
    import ipaddress

    import urllib3.util.connection

    real = urllib3.util.connection.create_connection
    made: list[tuple[str, int]] = []

    def create_connection(address, *args, **kwargs):
        made.append(address)
        try:
            outside = not ipaddress.ip_address(address[0]).is_loopback
        except ValueError:
            outside = False
        if outside:
            raise ConnectionRefusedError(111, "refused by the test: not loopback")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", create_connection)
    return made


def test_a_name_rebound_after_its_check_is_not_followed_into_our_network(receiver, subscribe, editor, closure_body,
                                                                       start_worker, push_services, resolver,
                                                                       connections):
    # A hostile name with a zero TTL: public to the subscription's and the delivery's checks, loopback (where the
    # receiver listens) to any lookup after them, such as a connection that resolved the name again.
    resolver["rebind.test"] = lambda lookup: ["93.184.216.34"] if lookup <= 2 else ["127.0.0.1"]
    subscribe(f"http://rebind.test:{receiver.port}/hook", events=["closure.created"])
    start_worker(allow_private=False)
    editor.closure(closure_body())
    rows = recorded(push_services, push_services.push.subscriptions(None, 10)[0]["id"], 1)
    assert receiver.received == []
    assert connections == [("93.184.216.34", receiver.port)]  # the address that was checked, and it alone
    assert "93.184.216.34" in rows[0]["error"] and rows[0]["outcome"] == "failed"


def test_the_next_checked_address_is_tried_when_one_refuses_a_connection(receiver, subscribe, editor, closure_body,
                                                                         start_worker, resolver, connections):
    resolver["two.test"] = ["127.0.0.2", "127.0.0.1"]  # nothing listens at .2
    subscribe(f"http://two.test:{receiver.port}/hook", events=["closure.created"])
    start_worker()
    editor.closure(closure_body())
    got = receiver.wait_for(1)
    assert len(got) == 1 and got[0]["headers"]["Host"] == f"two.test:{receiver.port}"
    assert connections[:2] == [("127.0.0.2", receiver.port), ("127.0.0.1", receiver.port)]


def test_https_goes_to_the_checked_address_verified_against_the_urls_name(tls_receiver, subscribe, editor,
                                                                          closure_body, start_worker, monkeypatch):
    receiver = tls_receiver("hook.test")
    sub = subscribe(receiver.url, events=["closure.created"])
    worker = start_worker()
    pools = []
    opened = worker.http.connection_from_host

    def connection_from_host(*args, **kwargs):
        pools.append(opened(*args, **kwargs))
        return pools[-1]

    monkeypatch.setattr(worker.http, "connection_from_host", connection_from_host)
    editor.closure(closure_body())
    got = receiver.wait_for(1)
    assert len(got) == 1 and Webhook(sub["secret"]).verify(got[0]["body"], got[0]["headers"])
    assert got[0]["headers"]["Host"] == f"hook.test:{receiver.port}"
    assert pools[0].scheme == "https" and (pools[0].host, pools[0].port) == ("127.0.0.1", receiver.port)
    assert pools[0].conn_kw["server_hostname"] == "hook.test"


def test_https_refuses_a_certificate_for_another_name(tls_receiver, subscribe, editor, closure_body, start_worker,
                                                      push_services):
    receiver = tls_receiver("hook.test", certified="elsewhere.test")
    subscribe(receiver.url, events=["closure.created"])
    start_worker()
    editor.closure(closure_body())
    rows = recorded(push_services, push_services.push.subscriptions(None, 10)[0]["id"], 1)
    assert receiver.received == []
    assert "SSLError" in rows[0]["error"] and "hook.test" in rows[0]["error"]


def test_deliveries_are_counted_with_their_lag(receiver, subscribe, editor, closure_body, start_worker, push_client):
    from roadworks.push import metrics

    before = metrics.DELIVERIES.labels("delivered")._value.get()
    subscribe(receiver.url, events=["closure.created"])
    start_worker()
    editor.closure(closure_body())
    receiver.wait_for(1)
    time.sleep(0.2)
    assert metrics.DELIVERIES.labels("delivered")._value.get() == before + 1
    text = push_client.get("/metrics").get_data(as_text=True)
    assert "roadworks_push_lag_seconds_bucket" in text and "roadworks_push_failing_subscriptions 0.0" in text


def test_a_worker_elsewhere_wakes_on_notify_or_redis_not_on_its_poll(receiver, subscribe, editor, closure_body,
                                                                     start_worker, push_services, redis_connection):
    """As if the worker ran in another process: PostgreSQL's NOTIFY, or on SQLite a Redis message, wakes it."""
    from roadworks.push.worker import redis_announcer

    from tests.conftest import REDIS_URL

    subscribe(receiver.url, events=["closure.created"])
    worker = start_worker(poll=30.0, statuses=False, redis_url=REDIS_URL)
    push_services.store.on_announce.remove(worker.wake)  # no in-process wake: only the database or Redis
    time.sleep(0.3)  # listening
    if worker.listener is None:
        push_services.store.on_announce.append(redis_announcer(REDIS_URL))
    try:
        started = time.time()
        editor.closure(closure_body())
        got = receiver.wait_for(1, timeout=5)
        assert got and got[0]["at"] - started < 2.0
    finally:
        push_services.store.on_announce.clear()
