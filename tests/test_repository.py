"""The store: versions, history rows, tombstones and a gap-free change sequence, one transaction per write."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from roadworks.store.engine import make_engine, migrate
from roadworks.store.tables import UTCDateTime, history

T0 = datetime(2024, 4, 1, tzinfo=timezone.utc)
PROJECT_COLUMNS = {"agency": "A"}


def save_project(store, id="p1", name="one", now=T0, action="create"):
    with store.writing() as w:
        return w.save("project", id, {"name": name}, columns=PROJECT_COLUMNS, now=now, actor="tester",
                      action=action, changes={"name": {"from": None, "to": name}})


def test_first_save_is_version_one_with_sequence_one(services):
    stored = save_project(services.store)
    assert (stored.version, stored.seq) == (1, 1)
    assert services.store.sequence() == 1
    assert services.store.get("project", "p1").doc == {"name": "one"}


def test_each_change_takes_the_next_sequence_and_version(services):
    store = services.store
    seqs = [save_project(store, name=str(i), now=T0 + timedelta(minutes=i)).seq for i in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    assert store.get("project", "p1").version == 5
    assert [h["version"] for h in store.history("project", "p1")] == [1, 2, 3, 4, 5]


def test_history_row_records_who_when_and_what(services):
    save_project(services.store, now=T0)
    (entry,) = services.store.history("project", "p1")
    assert entry["actor"] == "tester"
    assert entry["at"] == T0 and entry["at"].tzinfo is not None
    assert entry["changes"] == {"name": {"from": None, "to": "one"}}
    assert entry["snapshot"] == {"name": "one"}


def test_delete_leaves_a_tombstone_with_its_own_sequence(services):
    store = services.store
    save_project(store)
    with store.writing() as w:
        tomb = w.delete("project", "p1", now=T0 + timedelta(hours=1), actor="tester")
    assert (tomb.version, tomb.seq) == (2, 2)
    assert store.get("project", "p1") is None
    kept = store.get("project", "p1", include_deleted=True)
    assert kept.deleted_at == T0 + timedelta(hours=1)
    assert store.projects() == []
    assert store.history("project", "p1")[-1]["action"] == "delete"


def test_saving_over_a_tombstone_revives_it_as_a_new_version(services):
    store = services.store
    save_project(store)
    with store.writing() as w:
        w.delete("project", "p1", now=T0, actor="tester")
    revived = save_project(store, name="again", now=T0 + timedelta(days=1))
    assert revived.version == 3 and revived.deleted_at is None
    assert revived.created_at == T0 + timedelta(days=1)


def test_a_failed_transaction_leaves_no_row_no_history_and_no_sequence(services):
    store = services.store
    with pytest.raises(RuntimeError):
        with store.writing() as w:
            save = w.save("project", "p1", {"name": "x"}, columns=PROJECT_COLUMNS, now=T0, actor="t",
                          action="create", changes={})
            assert save.seq == 1
            raise RuntimeError("boom")
    assert store.get("project", "p1", include_deleted=True) is None
    assert store.history("project", "p1") == []
    assert store.sequence() == 0


def test_closures_query_by_project_and_bounding_box(services):
    store = services.store
    save_project(store)
    with store.writing() as w:
        for id, lon in (("west", 101.0), ("east", 102.0)):
            w.save("closure", id, {"id": id}, now=T0, actor="t", action="create", changes={},
                   columns={"project_id": "p1", "road": "r", "length_m": 1.0, "min_lon": lon, "max_lon": lon + 0.1,
                            "min_lat": 36.0, "max_lat": 36.1})
    assert [c.id for c in store.closures(project="p1")] == ["east", "west"]
    assert [c.id for c in store.closures(bbox=(100.9, 35.9, 101.05, 36.05))] == ["west"]
    assert store.closures(bbox=(0, 0, 1, 1)) == []
    assert store.live_closure_count("p1") == 2


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        UTCDateTime().process_bind_param(datetime(2024, 1, 1), None)


def test_datetimes_come_back_aware_in_utc(services):
    save_project(services.store, now=datetime(2024, 4, 1, 12, tzinfo=timezone(timedelta(hours=8))))
    stored = services.store.get("project", "p1")
    assert stored.created_at == datetime(2024, 4, 1, 4, tzinfo=timezone.utc)
    assert stored.created_at.utcoffset() == timedelta(0)


def test_migrating_twice_is_harmless(database_url):
    engine = make_engine(database_url)
    try:
        migrate(engine)
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(history)).scalar_one() >= 0
            assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one() == "0001"
    finally:
        engine.dispose()


def test_a_new_sqlite_file_is_created_migrated_and_in_wal_mode(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    try:
        migrate(engine)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
            assert conn.exec_driver_sql("SELECT value FROM counters WHERE name='change'").scalar_one() == 0
    finally:
        engine.dispose()
