"""A least-recently-used map bounded by bytes: the one store behind every cache and memo of the service."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable

_MISSING = object()


class ByteLru:
    """Values by key, each with a cost in bytes; the least recently used go first while the costs pass `budget`.

    A value costing more than the whole budget is not kept (the caller still has it). Thread-safe.
    `on_drop(key, value)` is told of every value evicted for room, so a caller can keep side indexes right;
    `max_items`, if given, bounds the count as well.
    """

    def __init__(self, budget: int, on_drop: Callable[[Hashable, Any], None] | None = None,
                 max_items: int | None = None):
        self.budget, self.used, self.max_items = int(budget), 0, max_items
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._on_drop = on_drop
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def keys(self) -> list[Hashable]:
        """The keys kept, least recently used first."""
        with self._lock:
            return list(self._items)

    def get(self, key: Hashable, default: Any = None) -> Any:
        """The value kept for `key` (now the most recently used), or `default`."""
        with self._lock:
            found = self._items.get(key, _MISSING)
            if found is _MISSING:
                return default
            self._items.move_to_end(key)
            return found[0]

    def put(self, key: Hashable, value: Any, cost: int) -> bool:
        """Keep `value` under `key` in place of any older one; False when it alone passes the budget."""
        with self._lock:
            self._discard(key)
            if cost > self.budget:
                return False
            self._items[key] = (value, cost)
            self.used += cost
            while self.used > self.budget or (self.max_items is not None and len(self._items) > self.max_items):
                dropped, (value_, paid) = self._items.popitem(last=False)
                self.used -= paid
                if self._on_drop is not None:
                    self._on_drop(dropped, value_)
            return True

    def pop(self, key: Hashable) -> None:
        """Forget `key`, if kept."""
        with self._lock:
            self._discard(key)

    def _discard(self, key: Hashable) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self.used -= old[1]
