"""The byte-bounded LRU (roadworks/budget.py) that every cache keeps its entries in."""

from __future__ import annotations

from roadworks.budget import ByteLru


def test_the_least_recently_used_go_first_past_the_budget():
    lru = ByteLru(100)
    for key in "abcd":
        assert lru.put(key, key.upper(), 30)
    assert lru.keys() == ["b", "c", "d"] and lru.used == 90
    assert lru.get("b") == "B"  # now the most recently used
    lru.put("e", "E", 30)
    assert lru.keys() == ["d", "b", "e"] and lru.used == 90


def test_a_value_larger_than_the_budget_is_not_kept_and_replaces_nothing_else():
    lru = ByteLru(100)
    lru.put("a", 1, 60)
    assert not lru.put("huge", 2, 101)
    assert lru.keys() == ["a"] and lru.get("huge") is None and lru.used == 60


def test_replacing_a_key_pays_only_its_new_cost():
    lru = ByteLru(100)
    lru.put("a", 1, 60)
    lru.put("a", 2, 10)
    assert lru.get("a") == 2 and lru.used == 10
    lru.pop("a")
    assert len(lru) == 0 and lru.used == 0


def test_evictions_are_told_and_a_count_cap_holds_too():
    dropped = []
    lru = ByteLru(1000, on_drop=lambda key, value: dropped.append((key, value)), max_items=2)
    for key in "abc":
        lru.put(key, key * 2, 1)
    assert dropped == [("a", "aa")] and lru.keys() == ["b", "c"]
