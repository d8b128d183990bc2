"""Push storage (roadworks/store/push.py) and the outbox rows the write transaction adds (store/repository.py)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from roadworks.store.tables import push_events


def events(services) -> list[dict]:
    with services.store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(push_events).order_by(push_events.c.id)).mappings()]


def test_each_public_change_adds_one_outbox_row_in_its_transaction(services, project, add_closure, clock):
    add_closure("a")
    add_closure("b", publish_at="2024-06-01")  # a draft: nothing public, nothing announced
    rows = events(services)
    assert [(r["type"], r["resource_id"]) for r in rows] == [("project.updated", "dongguan-gas-2024"),
                                                            ("closure.created", "a")]
    assert rows[1]["pseq"] == services.store.public_sequence()


def test_a_rolled_back_write_announces_nothing(services, project, add_closure, clock):
    add_closure("a")
    before = events(services)
    woken = []
    services.store.on_announce.append(lambda: woken.append(1))
    try:
        with pytest.raises(RuntimeError):
            with services.store.writing() as writer:
                stored = writer.get("closure", "a")
                writer.delete("closure", "a", now=clock(), actor="test")
                raise RuntimeError("the request failed after the change")
        assert events(services) == before and woken == []
        add_closure("c")
        assert woken == [1]
    finally:
        services.store.on_announce.clear()
    assert stored is not None


def test_announcements_held_by_a_block_wake_once_it_ends(services, project, add_closure):
    woken = []
    services.store.on_announce.append(lambda: woken.append(1))
    try:
        with services.store.holding_announcements():
            add_closure("a")
            add_closure("b")
            assert woken == []
        assert woken == [1]
    finally:
        services.store.on_announce.clear()
