"""The invalidation outbox: what a committed write must invalidate, durable in the database with the write.

A tracked write records one row in its own transaction (core/cache/invalidation.py): the families and write clocks
its settle bumps, and its write id (whose pending mark the settle lifts). After commit the writer applies it and
deletes the row. A row still there one relay interval later belongs to a writer that could not apply it (the cache
backend was down or slow) or died right after its commit; the relay of every server process (core/cache/relay.py)
applies it, and `manage.py cache_relay --once` does by hand. Applying a row twice is harmless: tokens move again,
which costs misses, never a stale read. See docs/caching.md, "Design: faults".

The cache library owns this table as Django's database session backend owns its own: it reads and writes it here,
not through the app's services.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connections, router, transaction
from django.utils import timezone

from core.cache import conf
from core.cache.store import GenerationStore, get_store

log = logging.getLogger(__name__)

CHANNEL = "runam_cache_outbox"  # the NOTIFY channel of core/migrations/0003_cache_outbox.py (PostgreSQL)
BATCH = 500  # rows one pass of the relay reads
# Rows this process wrote and could not apply, kept to apply before it exits; beyond this many the relay's job.
OWED_ROWS_MAX = 1000


def _model():
    from core.models import CacheOutbox  # here: models import the cache library while apps load

    return CacheOutbox


def databases() -> list[str]:
    """The database aliases that hold an outbox table."""
    model = _model()
    return [alias for alias in connections if router.allow_migrate_model(alias, model)]


@dataclass(frozen=True)
class Row:
    id: int
    using: str
    write_id: str
    families: list[str]
    clocks: list[str]
    created_at: datetime | None = None


def record(*, using: str, write_id: str | None, families: Iterable[str], clocks: Iterable[str]) -> Row:
    """Insert the row in the connection's current transaction (or at once in autocommit)."""
    model = _model()
    families, clocks = list(dict.fromkeys(families)), list(dict.fromkeys(clocks))
    row = model._default_manager.using(using).create(write_id=write_id or "", families=families, clocks=clocks)
    return Row(row.pk, using, row.write_id, families, clocks, row.created_at)


def discard(ids: Iterable[int], *, using: str) -> None:
    """Delete applied rows: one statement. Not QuerySet.delete(), which collects the rows first (every model has
    delete signal receivers here) and opens a transaction."""
    ids = list(ids)
    if not ids:
        return
    connection = connections[using]
    table = connection.ops.quote_name(_model()._meta.db_table)
    marks = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE id IN ({marks})", ids)


def apply(store: GenerationStore, row: Row) -> bool:
    """Settle the row's write: bump what it names and lift its mark. True when the backend did it."""
    if not row.families and not row.clocks:
        return True  # nothing to apply
    return store.settle_write(row.write_id or None, families=row.families, clocks=row.clocks)


# --- rows this process owes ---------------------------------------------------------------------------------------

_owed: OrderedDict[tuple[str, int], Row] = OrderedDict()
_owed_lock = threading.Lock()


def settled(row: Row | None, *, applied: bool) -> None:
    """After the writer's settle: delete its row if the settle reached the backend, else keep it for the exit
    flush of this process (and for the relay)."""
    if row is None:
        return
    if applied:
        try:
            discard([row.id], using=row.using)
        except Exception:
            # The relay applies it again later: a second bump, harmless.
            log.warning("outbox row %s not deleted; the relay will apply it again", row.id, exc_info=True)
        return
    with _owed_lock:
        _owed[(row.using, row.id)] = row
        while len(_owed) > OWED_ROWS_MAX:
            _owed.popitem(last=False)


def forget_owed() -> None:
    """Forget the rows this process owes (tests: a new process)."""
    with _owed_lock:
        _owed.clear()


def owed_rows() -> list[Row]:
    with _owed_lock:
        return list(_owed.values())


def apply_owed(*, deadline: float | None = None) -> int:
    """Apply and delete the rows this process wrote and could not apply; returns how many are still owed."""
    store = get_store()
    for row in owed_rows():
        if deadline is not None and time.monotonic() > deadline:
            break
        if not apply(store, row):
            break
        with _owed_lock:
            _owed.pop((row.using, row.id), None)
        try:
            discard([row.id], using=row.using)
        except Exception:
            log.warning("outbox row %s not deleted; the relay will apply it again", row.id, exc_info=True)
    return len(owed_rows())


# --- the relay's pass ---------------------------------------------------------------------------------------------


def apply_due(*, using: str, grace: float, limit: int = BATCH) -> tuple[int, bool]:
    """Apply and delete the rows older than `grace` seconds, oldest first, at most `limit`.

    Returns (rows applied, whether to come back soon: more rows than `limit`, or the backend did not answer).
    The usual case, an empty outbox, costs one indexed query. Where the database can (PostgreSQL), the rows are
    locked with SKIP LOCKED, so that several relays share a backlog instead of each applying all of it.
    """
    model = _model()
    cutoff = timezone.now() - timedelta(seconds=grace)
    due = model._default_manager.using(using).filter(created_at__lte=cutoff)
    if not due.exists():
        return 0, False
    connection = connections[using]
    locking = connection.features.has_select_for_update_skip_locked
    # On SQLite the pass holds no transaction: a read lock kept across backend calls would block every writer.
    with transaction.atomic(using=using) if locking else nullcontext():
        if locking:
            due = due.select_for_update(skip_locked=True)
        fields = ("id", "write_id", "families", "clocks", "created_at")
        found = due.order_by("created_at", "id").values_list(*fields)[:limit]
        rows = [Row(pk, using, write_id, families, clocks, at) for pk, write_id, families, clocks, at in found]
        applied, failed = _apply_batch(get_store(), rows)
        discard(applied, using=using)
    return len(applied), failed or len(rows) >= limit


def _apply_batch(store: GenerationStore, rows: list[Row]) -> tuple[list[int], bool]:
    """Apply rows; returns the ids applied and whether the backend failed. Rows older than the pending TTL hold
    no mark any more (it expired): they are merged into one bump, or, past CACHE_MAX_ENTRY_DEPENDENCIES families,
    replaced by an epoch bump, so that a backlog left by a long outage costs a few round trips, not one per row."""
    expired_before = timezone.now() - timedelta(seconds=conf.write_pending_ttl())
    old = [row for row in rows if row.created_at is not None and row.created_at <= expired_before]
    merged = {row.id for row in old}
    applied: list[int] = []
    if old:
        families = list(dict.fromkeys(family for row in old for family in row.families))
        clocks = list(dict.fromkeys(clock for row in old for clock in row.clocks))
        if len(families) > conf.max_entry_dependencies():
            done = store.bump_epoch()
        else:
            done = apply(store, Row(0, "", "", families, clocks))
        if not done:
            return applied, True
        applied.extend(row.id for row in old)
    for row in rows:
        if row.id in merged:
            continue
        if not apply(store, row):
            return applied, True
        applied.append(row.id)
    return applied, False


def count() -> int:
    """Rows waiting in every database's outbox."""
    return sum(_model()._default_manager.using(alias).count() for alias in databases())
