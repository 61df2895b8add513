"""Helpers promised by the RunAm caching docs: per-user data and evaluated querysets."""

from __future__ import annotations

import logging
from typing import Any

from django.apps import apps
from django.db import models
from django.db.models.query import ModelIterable

from core.cache import conf, invalidation, keys, serializers, stats
from core.cache.keys import get_cache_key
from core.cache.manager import CacheManager, usable
from core.cache.store import get_store

log = logging.getLogger(__name__)

__all__ = ["cache_queryset", "cache_user_data", "get_cache_key", "get_cached_user_data", "invalidate_user_cache"]

# Every family that holds one user's data; invalidate_user_cache bumps them all (one O(1) bump each).
USER_FAMILIES = ("user:{{user_id}}", "user_profile:{{user_id}}", "user_errands:{{user_id}}", "user_escrows:{{user_id}}")


def _user_key(user_id: Any) -> str:
    return keys.make_key("user:{{user_id}}:data", {"user_id": user_id})


def cache_user_data(user_id: Any, data: Any, timeout: int | None = None) -> bool:
    """Store `data` (JSON: dicts, lists, Decimal, datetime, UUID...) as the user's data. True when stored."""
    return CacheManager.set(_user_key(user_id), data, timeout)


def get_cached_user_data(user_id: Any, default: Any = None) -> Any:
    return CacheManager.get(_user_key(user_id), default)


def invalidate_user_cache(user_id: Any) -> None:
    """Invalidate everything cached for this user: `user:{id}:*`, profile, errands and escrows."""
    families = [keys.strip_prefix(keys.make_key(t, {"user_id": user_id})) for t in USER_FAMILIES]
    invalidation.invalidate(families)
    for family in families:
        stats.record(family.split(":", 1)[0], "invalidation")


def _labels(query: Any) -> list[str]:
    """Models whose writes can change the rows: the queried one plus every joined table's (compiled query)."""
    tables = {alias.table_name for alias in query.alias_map.values()}
    found = {m._meta.label_lower for m in apps.get_models(include_auto_created=True) if m._meta.db_table in tables}
    return sorted(found | {query.model._meta.label_lower})


def _encode(qs: models.QuerySet, result: list[Any]) -> dict[str, Any]:
    if qs._iterable_class is not ModelIterable:
        return {"fields": None, "rows": result}  # values()/values_list(): already plain data
    # Only the loaded fields (only()/defer() apply to every row alike): reading a deferred one would query.
    loaded = [f.attname for f in qs.model._meta.concrete_fields if not result or f.attname in result[0].__dict__]
    return {"fields": loaded, "rows": [[getattr(obj, name) for name in loaded] for obj in result]}


def _decode(qs: models.QuerySet, stored: dict[str, Any]) -> list[Any]:
    if stored["fields"] is None:
        return list(stored["rows"])
    return [qs.model.from_db(qs.db, stored["fields"], values) for values in stored["rows"]]


def _key(qs: models.QuerySet) -> tuple[str, list[str]]:
    query = qs.query.clone()
    sql, params = query.get_compiler(using=qs.db).as_sql()
    context = {"model": qs.model._meta.label_lower, "query": [qs.db, sql, list(params)]}
    return keys.make_key("queryset:{{model}}:{{query}}", context, hash_params=["query"]), _labels(query)


def cache_queryset(qs: models.QuerySet, timeout: int | None = None) -> list[Any]:
    """Evaluate `qs` once and cache its rows as JSON; return a list (model instances rebuilt from the rows).

    Key: `queryset:<app.model>:~<hash of the SQL and params>`. Writes to the model bump `queryset:<app.model>`;
    the store is guarded on the write clocks of every joined model, so a write during the query is never cached.
    Related objects (select_related) are not kept: reaching them queries again.
    """
    if not usable():
        return list(qs)
    try:
        key, labels = _key(qs)
    except Exception as exc:  # EmptyResultSet, params that are not JSON...: just run the query
        log.debug("cache_queryset: not cached (%s)", exc)
        return list(qs)
    store, family = get_store(), keys.family_of(key)
    found = store.lookup(key, clocks=labels)
    if found.hit:
        try:
            rows = _decode(qs, serializers.loads(found.payload or ""))
        except (ValueError, KeyError, TypeError):
            log.warning("cache_queryset: unreadable entry %s, recomputed", key)
        else:
            stats.record(family, "hit")
            return rows
    stats.record(family, "miss")
    result = list(qs.all())  # a fresh evaluation: the caller's queryset may hold rows from an earlier one
    ttl = conf.default_timeout() if timeout is None else timeout
    if found.ticket is None or ttl <= 0:
        return result
    try:
        payload = serializers.dumps(_encode(qs, result))
    except (TypeError, ValueError) as exc:
        log.warning("cache_queryset: rows not JSON (%s), returned uncached", exc)
        return result
    extra = [f"queryset:{label}" for label in labels]
    if store.store(found.ticket, payload, ttl, families=extra, guarded=True):
        stats.record(family, "set")
    return result
