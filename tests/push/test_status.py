"""Status changes at their instant (roadworks/push/status.py): old and new status, once, across restarts."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from standardwebhooks.webhooks import Webhook

from tests.push.test_worker import editor  # noqa: F401 - the fixture

# 2024-05-20 12:00 in Xining is the test clock's start; this closure's session starts at 22:00 that day.
NIGHT = {"windows": [{"start": "2024-05-20", "end": "2024-05-20"}],
         "hours": [{"days": ["mon"], "start": "22:00", "end": "06:00"}]}
BOUNDARY = datetime(2024, 5, 20, 14, 0, tzinfo=timezone.utc)  # 22:00 in Asia/Shanghai


def status_events(receiver):
    return [b for b in receiver.delivered() if b["type"] == "closure.status_changed"]


def test_a_night_session_starting_is_sent_within_a_second(receiver, subscribe, editor, closure_body,  # noqa: F811
                                                          start_worker, clock):
    sub = subscribe(receiver.url, events=["closure.status_changed"])
    id = editor.closure(closure_body(schedule=NIGHT))
    start_worker()
    time.sleep(0.3)  # the scheduler has noted the closure as upcoming
    assert status_events(receiver) == []
    clock.now = BOUNDARY
    moved = time.time()
    got = receiver.wait_for(1, timeout=3)
    assert got and got[0]["at"] - moved < 1.0
    payload = Webhook(sub["secret"]).verify(got[0]["body"], got[0]["headers"])
    assert payload["data"]["id"] == id
    assert (payload["data"]["old_status"], payload["data"]["new_status"]) == ("upcoming", "active")
    assert payload["data"]["at"] == "2024-05-20T22:00:00+08:00"


def test_a_restart_neither_repeats_nor_loses_a_change(receiver, subscribe, editor, closure_body,  # noqa: F811
                                                      start_worker, clock):
    subscribe(receiver.url, events=["closure.status_changed"])
    editor.closure(closure_body(schedule=NIGHT))
    first = start_worker()
    time.sleep(0.3)
    first.stop()
    clock.now = datetime(2024, 5, 21, 0, 0, tzinfo=timezone.utc)  # 08:00: the session began and ended meanwhile
    start_worker()
    receiver.wait_for(2, timeout=3)
    time.sleep(0.5)
    changes = [(b["data"]["old_status"], b["data"]["new_status"]) for b in status_events(receiver)]
    assert changes == [("upcoming", "active"), ("active", "completed")]
    start_worker()  # a third scheduler finds nothing left to announce
    time.sleep(0.5)
    assert len(status_events(receiver)) == 2
