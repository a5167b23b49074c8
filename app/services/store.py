"""A store of finished results shared by every session: thread-safe, least recently used dropped.

For work that reports progress while it runs. `st.cache_data` records the Streamlit calls a cached
function makes (a progress bar's updates) and replays them on a hit, into a bar that another run
owns, and raises; results kept here are handed back without replaying anything.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable


class SharedStore:
    """{key: result} for every session, at most `capacity` entries, one lock around each look-up."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._kept: OrderedDict[Hashable, Any] = OrderedDict()

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The kept result for `key`, or compute() (outside the lock: others go on meanwhile) and keep it."""
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
        result = compute()
        with self._lock:
            self._kept[key] = result
            while len(self._kept) > self.capacity:
                self._kept.popitem(last=False)
        return result

    def clear(self) -> None:
        """Forget every kept result (tests; a server never needs it)."""
        with self._lock:
            self._kept.clear()
