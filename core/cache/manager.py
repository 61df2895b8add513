"""CacheManager: get/set/invalidate by key or pattern, and the read-through path every decorator shares."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any, Literal, TypeVar

from asgiref.sync import async_to_sync, sync_to_async

from core.cache import conf, invalidation, keys, serializers, stats
from core.cache.invalidation import in_dirty_transaction
from core.cache.store import GenerationStore, Lookup, Ticket, get_store

log = logging.getLogger(__name__)

T = TypeVar("T")
Outcome = Literal["hit", "stored", "not stored", "bypass"]
Warmer = Callable[[], object]

_UNREADABLE = object()
_warmers: dict[str, Warmer] = {}


def full_key(key: str) -> str:
    """`user:1` or `runam:user:1` → `runam:user:1`. make_key keeps the literal text and refuses `_` internals."""
    return keys.make_key(keys.strip_prefix(key))


def usable() -> bool:
    """Caching is on, and this thread is not inside a transaction that has written: what it sees may never
    commit, and the bumps for its writes only happen on commit, so it must neither read nor fill the cache."""
    return conf.cache_enabled() and not in_dirty_transaction()


def _ttl(ttl: int | None) -> int:
    return conf.default_timeout() if ttl is None else int(ttl)


def _decode(found: Lookup) -> Any:
    try:
        return serializers.loads(found.payload or "")
    except (ValueError, TypeError, KeyError):
        # A payload we cannot read is a miss, not an error for the caller.
        log.warning("cache entry unreadable, treated as a miss")
        return _UNREADABLE


def _encode(value: object) -> tuple[str, serializers.Tracked] | None:
    try:
        return serializers.dumps_tracked(value)
    except (TypeError, ValueError) as exc:
        log.warning("value not cacheable (%s): returned uncached", exc)
        return None


def _store_value(store: GenerationStore, ticket: Ticket, payload: str, tracked: serializers.Tracked, ttl: int) -> bool:
    if not tracked.labels:
        return store.store(ticket, payload, ttl)
    # Model rows: the entry also lists their generations, read atomically with the store, and the store is a
    # no-op if one of their models was written while the value was computed (the clocks read by the lookup).
    # Guarded by the write clocks of the models the value shows, and only those.
    return store.store(ticket, payload, ttl, families=tracked.families, guarded=True, clocks=tracked.labels)


def _put(store: GenerationStore, ticket: Ticket, value: object, ttl: int | None) -> bool:
    if invalidation.in_transaction():
        # Under snapshot isolation the value may come from a snapshot older than the generations just read.
        return False
    seconds = _ttl(ttl)
    encoded = _encode(value) if seconds > 0 else None
    if encoded is None or not _store_value(store, ticket, *encoded, seconds):
        return False
    stats.record(keys.family_of(ticket.key), "set")
    return True


def _hit(store: GenerationStore, key: str, found: Lookup) -> tuple[bool, Any]:
    if not found.hit:
        return False, None
    value = _decode(found)
    if value is _UNREADABLE:
        store.delete(key)
        return False, None
    return True, value


def cached_call(key: str, compute: Callable[[], T], ttl: int | None = None) -> tuple[T, Outcome]:
    """Read through `key` (a full key): serve a valid entry, else compute once across processes and store."""
    if not usable():
        return compute(), "bypass"
    store, family = get_store(), keys.family_of(key)
    clocks = invalidation.tracked_labels()  # read before computing, in case the value holds model rows
    found = store.lookup(key, clocks=clocks)
    hit, value = _hit(store, key, found)
    if hit:
        stats.record(family, "hit")
        return value, "hit"
    stats.record(family, "miss")
    if found.hit:  # an unreadable entry, now deleted: a hit carries no ticket, so take one to store in its place
        found = store.lookup(key, clocks=clocks)
    if found.ticket is None:  # backend down: compute, store nothing
        return compute(), "not stored"
    wait = conf.single_flight_wait()
    if store.acquire(key, max(100, int(wait * 1000))):
        try:
            # Re-check under the lock: a previous holder may have stored between our miss and our lock.
            again = store.lookup(key, clocks=clocks)
            hit, value = _hit(store, key, again)
            if hit:
                return value, "hit"
            result = compute()
            stored = _put(store, again.ticket or found.ticket, result, ttl)
        finally:
            store.release(key)
    else:
        waited = store.wait_for(key, wait)
        hit, value = _hit(store, key, waited)
        if hit:
            return value, "hit"
        # The holder is slow or died: compute ourselves (bounded wait, never a pile-up behind one caller).
        result = compute()
        # The clocks read before our first lookup guard this computation too (wait_for reads none).
        ticket = replace(waited.ticket, guards=found.ticket.guards) if waited.ticket else found.ticket
        stored = _put(store, ticket, result, ttl)
    return result, "stored" if stored else "not stored"


async def acached_call(key: str, compute: Callable[[], Awaitable[T]], ttl: int | None = None) -> tuple[T, Outcome]:
    """The same read-through as cached_call(), single flight and transaction checks included, for a coroutine: it
    runs in Django's thread for synchronous work (where the request's database connection lives), and `compute` is
    awaited back on the event loop."""

    async def run() -> T:
        return await compute()

    return await sync_to_async(cached_call)(key, async_to_sync(run), ttl)


def _invalidate_one(store: GenerationStore, pattern: str) -> int | None:
    """Bump a family (O(1)) when the pattern names one; scan otherwise. Returns the scan count, None for a bump."""
    relative = keys.strip_prefix(pattern)
    family = keys.family_from_pattern(relative)
    if family is not None:
        invalidation.invalidate([family])
        stats.record(keys.family_of(family), "invalidation")
        return None
    removed = store.delete_pattern(relative)
    if removed:
        stats.record(keys.family_of(relative), "invalidation", removed)
    return removed


def warmer(fn: Warmer | None = None, /, *, name: str | None = None) -> Any:
    """Register `fn` to be run by CacheManager.warm_up(). Bare (`@warmer`) or named (`@warmer(name="banks")`)."""

    def register(func: Warmer) -> Warmer:
        _warmers[name or f"{func.__module__}.{func.__qualname__}"] = func
        return func

    return register(fn) if fn is not None else register


def registered_warmers() -> list[str]:
    """The names CacheManager.warm_up() can run, in registration order."""
    return list(_warmers)


class CacheManager:
    """Imperative access to the cache. Keys may be given with or without the `runam:` prefix."""

    @classmethod
    def get(cls, key: str, default: Any = None) -> Any:
        if not usable():
            return default
        store, full = get_store(), full_key(key)
        hit, value = _hit(store, full, store.lookup(full))
        stats.record(keys.family_of(full), "hit" if hit else "miss")
        return value if hit else default

    @classmethod
    def set(cls, key: str, value: Any, ttl: int | None = None) -> bool:
        """Store `value` (JSON). Prefer get_or_set: it reads generations before computing, so it cannot race a write."""
        if not usable():
            return False
        store = get_store()
        ticket = store.ticket(full_key(key))
        return ticket is not None and _put(store, ticket, value, ttl)

    @classmethod
    def delete(cls, key: str) -> bool:
        """Remove one entry. Also bumps its own family, so `user:5` also invalidates `user:5:*`."""
        full = full_key(key)
        removed = get_store().delete(full)
        stats.record(keys.family_of(full), "invalidation")
        return removed

    @classmethod
    def delete_pattern(cls, glob: str, dry_run: bool = False) -> int:
        """Delete every entry matching `glob` by scanning in batches; returns how many (would be) removed."""
        relative = keys.strip_prefix(glob).strip()
        if not relative:
            raise ValueError("delete_pattern needs a non-empty glob")
        removed = get_store().delete_pattern(relative, dry_run=dry_run)
        if removed and not dry_run:
            stats.record(keys.family_of(relative), "invalidation", removed)
        return removed

    @classmethod
    def invalidate(cls, pattern: str, context: Mapping[str, Any] | None = None) -> int | None:
        """Invalidate a template pattern: `errand_list:*`, `user:{{id}}:*` or an exact key bump one generation
        (O(1)); any other glob scans. Values from `context` are escaped, so they can never widen the pattern."""
        rendered = keys.make_pattern(keys.strip_prefix(pattern), context or {})
        return _invalidate_one(get_store(), rendered)

    @classmethod
    def get_or_set(cls, key: str, fn: Callable[[], T], ttl: int | None = None) -> T:
        """Return the cached value, or compute it with `fn` once (other callers wait for it) and store it."""
        value, _ = cached_call(full_key(key), fn, ttl)
        return value

    @classmethod
    def clear_all(cls, dry_run: bool = False) -> int:
        """Forget everything under our prefix (epoch bump + delete). Never touches other keys in a shared Redis."""
        return get_store().clear_all(dry_run=dry_run)

    @classmethod
    def get_stats(cls) -> dict[str, Any]:
        return stats.snapshot()

    warmer = staticmethod(warmer)

    @classmethod
    def warm_up(cls, names: list[str] | None = None) -> list[str]:
        """Run registered warmers (all, or those named); a failing warmer is logged and skipped."""
        ran = []
        for warmer_name, fn in list(_warmers.items()):
            if names is not None and warmer_name not in names:
                continue
            try:
                fn()
            except Exception:
                log.exception("cache warmer %s failed", warmer_name)
                continue
            ran.append(warmer_name)
        return ran
