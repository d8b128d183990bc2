"""The store: versions, history rows, tombstones and a gap-free change sequence, one transaction per write."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from roadworks.domain.errors import Conflict
from roadworks.store.engine import make_engine, migrate
from roadworks.store.errors import AlreadyRemembered
from roadworks.store.repository import Remembered
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


def test_a_second_answer_for_one_idempotency_key_is_a_typed_conflict_and_the_first_stays(services):
    store = services.store
    token = store.add_token(name="desk", role="editor", agency="A", token_hash="0" * 64, now=T0)
    with store.writing() as w:
        w.remember(token.id, "k1", Remembered("first", 201, b"one", {}), T0)
    with pytest.raises(AlreadyRemembered) as raised:
        with store.writing() as w:
            w.remember(token.id, "k1", Remembered("second", 201, b"two", {}), T0)
    # Callers above store/ catch a domain Conflict, never the database library's own error class.
    assert isinstance(raised.value, Conflict) and not isinstance(raised.value, sa.exc.SQLAlchemyError)
    assert store.remembered(token.id, "k1").body == b"one"


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


def test_each_closure_reads_every_live_closure_as_get_does_with_its_stored_length(services):
    store = services.store
    save_project(store)
    docs = {"plain": {"id": "plain", "properties": {"road": "东关大街", "n": 2 ** 53 + 1, "x": 0.1 + 0.2}},
            "gone": {"id": "gone"}, "nested": {"id": "nested", "a": [{"b": [1.5e-7, None, True, "\u00e9\n"]}]}}
    with store.writing() as w:
        for i, (id, doc) in enumerate(docs.items()):
            w.save("closure", id, doc, now=T0, actor="t", action="create", changes={},
                   columns={"project_id": "p1", "road": "r", "length_m": 10.5 + i, "min_lon": 1.0, "max_lon": 1.0,
                            "min_lat": 2.0, "max_lat": 2.0})
        w.delete("closure", "gone", now=T0 + timedelta(hours=1), actor="t")
    read = {s.id: s for s in store.each_closure(batch=1)}
    assert sorted(read) == ["nested", "plain"]
    for id, stored in read.items():
        got = store.get("closure", id)
        assert stored.doc == got.doc == docs[id]
        assert (stored.version, stored.seq, stored.created_at, stored.updated_at, stored.owner, stored.deleted_at) == \
            (got.version, got.seq, got.created_at, got.updated_at, "p1", None)
    assert (read["plain"].length_m, read["nested"].length_m) == (10.5, 12.5)
    assert store.get("closure", "plain").length_m is None, "other reads leave it out"


def test_decode_takes_what_orjson_refuses():  # NaN: Python's json writes it
    from roadworks.store.repository import decode

    assert decode('{"a": [1, 2.5, "东"]}') == {"a": [1, 2.5, "东"]}
    nan = decode('{"x": NaN}')["x"]
    assert nan != nan


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
            assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one() == "0005_push"
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


# ---------------------------------------------------------------------------- the public change numbers (issue 10)

SHANGHAI = {"agency": "A", "timezone": "Asia/Shanghai"}


def save_closure(store, id, now, publish_at=None, action="create", project="p1"):
    doc = {"type": "Feature", "id": id, "properties": {"project": project, "road": "r", "publish_at": publish_at}}
    with store.writing() as w:
        return w.save("closure", id, doc, now=now, actor="t", action=action, changes={},
                      columns={"project_id": project, "road": "r", "length_m": 1.0, "min_lon": 101.0,
                               "max_lon": 101.1, "min_lat": 36.0, "max_lat": 36.1})


def public_rows(store) -> list[tuple]:
    return [(r["pseq"], r["resource_id"], r["action"], r["at"]) for r in store.public_changes_since(0, 100)]


def test_a_hidden_draft_takes_a_raw_sequence_number_but_no_public_one(services):
    store = services.store
    with store.writing() as w:
        w.save("project", "p1", SHANGHAI, columns={"agency": "A"}, now=T0, actor="t", action="create", changes={})
    save_closure(store, "draft", T0, publish_at="2024-04-02")  # local midnight: 2024-04-01T16:00Z
    save_closure(store, "plain", T0 + timedelta(hours=1))
    assert store.sequence() == 3
    assert public_rows(store) == [(1, "p1", "create", T0), (2, "plain", "create", T0 + timedelta(hours=1))]
    assert store.public_sequence() == 2


def test_a_due_publication_is_numbered_before_the_next_write_in_public_order(services):
    store = services.store
    with store.writing() as w:
        w.save("project", "p1", SHANGHAI, columns={"agency": "A"}, now=T0, actor="t", action="create", changes={})
    save_closure(store, "late", T0, publish_at="2024-04-01T20:00:00+08:00")
    save_closure(store, "early", T0, publish_at="2024-04-01T18:00:00+08:00")
    save_closure(store, "write", T0 + timedelta(hours=13))  # after both publications: they come first
    assert public_rows(store) == [(1, "p1", "create", T0), (2, "early", "update", T0 + timedelta(hours=10)),
                                  (3, "late", "update", T0 + timedelta(hours=12)),
                                  (4, "write", "create", T0 + timedelta(hours=13))]
    assert store.publish_due(T0 + timedelta(days=9)) == 0


def test_a_draft_replaced_or_deleted_before_its_publication_is_never_numbered(services):
    store = services.store
    with store.writing() as w:
        w.save("project", "p1", SHANGHAI, columns={"agency": "A"}, now=T0, actor="t", action="create", changes={})
    save_closure(store, "x", T0, publish_at="2024-04-01T09:00:00+08:00")
    save_closure(store, "x", T0 + timedelta(minutes=1), publish_at="2024-04-05", action="update")
    save_closure(store, "y", T0, publish_at="2024-04-01T09:00:00+08:00")
    with store.writing() as w:
        w.delete("closure", "y", now=T0 + timedelta(minutes=2), actor="t")
    assert store.publish_due(T0 + timedelta(days=2)) == 0
    assert [r[1] for r in public_rows(store)] == ["p1"]
    assert store.publish_due(T0 + timedelta(days=4)) == 1
    assert public_rows(store)[-1][1:] == ("x", "update", datetime(2024, 4, 4, 16, tzinfo=timezone.utc))


def test_a_published_closure_sent_back_to_draft_is_a_public_deletion_then_an_update(services):
    store = services.store
    with store.writing() as w:
        w.save("project", "p1", SHANGHAI, columns={"agency": "A"}, now=T0, actor="t", action="create", changes={})
    save_closure(store, "x", T0)
    save_closure(store, "x", T0 + timedelta(hours=1), publish_at="2024-04-03", action="update")
    store.publish_due(T0 + timedelta(days=3))
    assert [(r[1], r[2]) for r in public_rows(store)] == [("p1", "create"), ("x", "create"), ("x", "delete"),
                                                         ("x", "update")]


def test_a_project_s_new_zone_moves_its_drafts_date_publications(services):
    store = services.store
    with store.writing() as w:
        w.save("project", "p1", SHANGHAI, columns={"agency": "A"}, now=T0, actor="t", action="create", changes={})
    save_closure(store, "x", T0, publish_at="2024-04-03")
    with store.writing() as w:
        w.save("project", "p1", dict(SHANGHAI, timezone="UTC"), columns={"agency": "A"}, now=T0, actor="t",
               action="update", changes={})
    assert store.publish_due(datetime(2024, 4, 2, 23, tzinfo=timezone.utc)) == 0  # not Shanghai's midnight
    assert store.publish_due(datetime(2024, 4, 3, tzinfo=timezone.utc)) == 1


def test_migrating_from_0001_numbers_the_existing_history_as_writes_would_have(tmp_path):
    from alembic import command
    from alembic.config import Config

    from roadworks.store.engine import MIGRATIONS
    from roadworks.store.repository import Store
    from roadworks.store.tables import projects

    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0001")
        rows = [("project", "p1", "create", T0, SHANGHAI),
                ("closure", "plain", "create", T0, {"properties": {"project": "p1"}}),
                ("closure", "draft", "create", T0, {"properties": {"project": "p1", "publish_at": "2024-04-02"}}),
                ("closure", "gone", "create", T0, {"properties": {"project": "p1", "publish_at": "2024-04-02"}}),
                ("closure", "gone", "delete", T0 + timedelta(hours=1), None),
                ("closure", "plain", "update", T0 + timedelta(days=2), {"properties": {"project": "p1"}})]
        with engine.begin() as conn:
            conn.execute(projects.insert().values(id="p1", agency="A", doc=SHANGHAI, version=1, seq=1, created_at=T0,
                                                  updated_at=T0))
            for seq, (kind, id, action, at, doc) in enumerate(rows, start=1):
                conn.execute(sa.insert(sa.table("history", *(sa.column(c) for c in (
                    "seq", "kind", "resource_id", "version", "action", "at", "actor", "changes", "snapshot")))),
                    {"seq": seq, "kind": kind, "resource_id": id, "version": 1, "action": action,
                     "at": at.isoformat(), "actor": "t", "changes": "{}",
                     "snapshot": None if doc is None else json.dumps(doc)})
            conn.exec_driver_sql("UPDATE counters SET value = 6 WHERE name = 'change'")
        migrate(engine)
        store = Store(engine)
        assert [(r[1], r[2]) for r in public_rows(store)] == [("p1", "create"), ("plain", "create"),
                                                             ("draft", "update"), ("plain", "update")]
        assert [r[0] for r in public_rows(store)] == [1, 2, 3, 4]
        assert public_rows(store)[2][3] == datetime(2024, 4, 1, 16, tzinfo=timezone.utc)
        # An old cursor maps to the public number just before the first change it had not shown.
        assert store.public_position(3, T0) == 2
        assert store.public_position(6, T0 + timedelta(days=3)) == 4
    finally:
        engine.dispose()
