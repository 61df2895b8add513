"""Hit/miss/set/invalidation counters per key family.

Counting is a dict increment in the process; a daemon thread adds the counts to one Redis hash (HINCRBY
`family|event`, one pipeline) at most once per CACHE_STATS_FLUSH_INTERVAL, so a hit never pays a round trip and
every process's counts add up. On LocMem the counters stay in the process, like the cache itself. What is still
pending when the process exits (a management command, a script) is flushed at exit (core/cache/shutdown.py).
"""

import os
import threading
from collections import Counter
from typing import Any

from core.cache import conf
from core.cache.store import FAULTS, current_store, get_store

EVENTS = {"hit": "hits", "miss": "misses", "set": "sets", "invalidation": "invalidations"}
# The store's failed calls are counted under this name, which no family can have (templates cannot start with `_`).
FAULTS_FAMILY = "_backend"
# Counts of families beyond CACHE_STATS_MAX_FAMILIES in one process.
OTHER_FAMILY = "_other"


def _empty() -> dict[str, Any]:
    return {"hits": 0, "misses": 0, "sets": 0, "invalidations": 0, "hit_rate": 0.0}


class Stats:
    """One process's counters. Tests make several to stand for several processes sharing one Redis."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: Counter[str] = Counter()
        self._families: set[str] = set()  # counted by this process since its last flush, at most the setting + 1
        self._flusher: threading.Thread | None = None
        self._stop = threading.Event()
        self._pid = os.getpid()

    def record(self, family: str, event: str, n: int = 1) -> None:
        if event not in EVENTS:
            raise ValueError(f"unknown cache event {event!r}; expected one of {sorted(EVENTS)}")
        self._ensure_flusher()  # first: in a forked process it drops the parent's counts, not this one
        with self._lock:
            if family not in self._families:
                if len(self._families) >= conf.stats_max_families():
                    family = OTHER_FAMILY
                self._families.add(family)
            self._pending[f"{family}|{event}"] += n

    def flush(self) -> bool:
        """Send pending counts to the shared hash in one pipeline; on failure keep them for the next flush."""
        store = get_store()
        self._take_faults(store)
        if store.backend != "redis":
            return False
        with self._lock:
            counts, self._pending, self._families = self._pending, Counter(), set()
        if not counts:
            return True
        if store.flush_stats(dict(counts)):
            return True
        with self._lock:
            self._pending.update(counts)
            self._families.update(name.rpartition("|")[0] for name in counts)
        return False

    def _take_faults(self, store: Any) -> None:
        faults = store.take_faults()
        with self._lock:
            self._pending.update({f"{FAULTS_FAMILY}|{kind}": count for kind, count in faults.items()})

    def totals(self) -> dict[str, int]:
        store = get_store()
        self._take_faults(store)
        shared = store.read_stats() if store.backend == "redis" and self.flush() else None
        with self._lock:
            local = dict(self._pending)
        if shared is None:
            return local
        return dict(Counter(shared) + Counter(local))

    def snapshot(self) -> dict[str, Any]:
        families: dict[str, dict[str, Any]] = {}
        overall = _empty()
        faults = dict.fromkeys(FAULTS, 0)
        for name, count in self.totals().items():
            family, _, event = name.rpartition("|")
            if family == FAULTS_FAMILY:
                if event in faults:
                    faults[event] += count
                continue
            if event not in EVENTS:
                continue
            families.setdefault(family, _empty())[EVENTS[event]] += count
            overall[EVENTS[event]] += count
        for row in [*families.values(), overall]:
            lookups = row["hits"] + row["misses"]
            row["hit_rate"] = row["hits"] / lookups if lookups else 0.0
        store = get_store()
        return {
            "families": dict(sorted(families.items())),
            "overall": overall,
            "backend": store.info(),
            "faults": faults,  # failed calls by kind, every process's on Redis
            "slowlog": store.slowlog(),
        }

    def reset(self, *, shared: bool = True) -> None:
        with self._lock:
            self._pending.clear()
            self._families.clear()
        if shared:
            get_store().reset_stats()

    def _ensure_flusher(self) -> None:
        if self._pid != os.getpid():  # forked: the parent's thread and unflushed counts are not ours
            with self._lock:
                self._pid, self._pending, self._flusher = os.getpid(), Counter(), None
                self._families = set()
        if self._flusher is not None and self._flusher.is_alive():
            return
        if conf.stats_flush_interval() <= 0 or conf.backend_name() != "redis":
            return
        with self._lock:
            if self._flusher is None or not self._flusher.is_alive():
                self._flusher = threading.Thread(target=self._flush_loop, name="cache-stats-flush", daemon=True)
                self._flusher.start()

    def _flush_loop(self) -> None:
        while (interval := conf.stats_flush_interval()) > 0 and not self._stop.wait(interval):
            self.flush()

    def stop(self) -> None:
        """Stop the background flush (it starts again with the next record)."""
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join()
        self._stop.clear()


_default = Stats()


def flush_at_exit() -> bool:
    """Send what this process still counts (core/cache/shutdown.py calls it at exit: a command that ran for less than
    the flush interval would otherwise lose every count it made). True when nothing is left to send."""
    if _default._pid != os.getpid():
        return True
    if current_store() is not None:
        _default._take_faults(get_store())  # failed calls count too
    if _default._pending and conf.backend_name() == "redis":
        _default.flush()
        return not _default._pending
    return True


def record(family: str, event: str, n: int = 1) -> None:
    """Count an event for a key family ("user", "errand_list"); event is hit, miss, set or invalidation."""
    _default.record(family, event, n)


def flush() -> bool:
    return _default.flush()


def snapshot() -> dict[str, Any]:
    """{"families": {family: {hits, misses, sets, invalidations, hit_rate}}, "overall": {...}, "backend": info,
    "faults": {read_timeout, read_error, write_timeout, write_error}, "slowlog": {length, entries, error} or None}."""
    return _default.snapshot()


def reset(*, shared: bool = True) -> None:
    """Zero this process's counters and, unless shared=False, the counters every process shares."""
    _default.reset(shared=shared)
