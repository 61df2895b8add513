"""Automatic invalidation: every write to a tracked model bumps, after commit, what could show it.

A write bumps three things (see docs/caching.md):
- the model's write clock, which makes any guarded store computed during the write a no-op;
- the row's generation (`@errands.errand:5`), which every cached result that showed the row lists;
- the families of settings.CACHE_INVALIDATION (list membership: `errand_list`, `user_errands:7`, ...).
Bulk writes whose rows are unknown (`update`, `bulk_update`, `bulk_create`) bump the model's type generation and
every family root the model names instead.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from functools import cache

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import DEFAULT_DB_ALIAS, connections, models, router, transaction
from django.db.models.signals import post_delete, post_migrate, post_save, pre_delete, pre_save
from django.dispatch import receiver

from core.cache import keys
from core.cache.keys import MANUAL_CLOCK, make_key, strip_prefix
from core.cache.store import get_store

logger = logging.getLogger(__name__)
_PLACEHOLDER = re.compile(r"\{\{\s*([\w.]+)\s*\}\}")


def row_family(model: type[models.Model], pk: object) -> str:
    return keys.row_family(model._meta.label_lower, pk)


def type_family(model: type[models.Model]) -> str:
    return keys.type_family(model._meta.label_lower)


def queryset_family(model: type[models.Model]) -> str:
    # cache_queryset() keys live under this family.
    return keys.queryset_family(model._meta.label_lower)


@cache
def invalidation_map() -> dict[str, tuple[str, ...]]:
    """Templates by model label (`errands.errand`). By label, not class: a data migration's historical model is
    another class with the same label, and its writes must invalidate too."""
    raw = getattr(settings, "CACHE_INVALIDATION", {})
    try:
        return {apps.get_model(label)._meta.label_lower: tuple(templates) for label, templates in raw.items()}
    except (LookupError, ValueError) as exc:
        raise ImproperlyConfigured(f"CACHE_INVALIDATION names an unknown model: {exc}") from exc


def _templates(model: type[models.Model]) -> tuple[str, ...]:
    return invalidation_map().get(model._meta.label_lower, ())


@cache
def _labels_by_root() -> dict[str, frozenset[str]]:
    """Model labels by the root of the families their writes bump (`errand_list` -> errands.errand)."""
    roots: dict[str, set[str]] = {}
    for label, templates in invalidation_map().items():
        for template in templates:
            roots.setdefault(template.split(":", 1)[0], set()).add(label)
    return {root: frozenset(labels) for root, labels in roots.items()}


@receiver(setting_changed)
def _reload(*, setting: str, **kwargs) -> None:
    if setting == "CACHE_INVALIDATION":
        invalidation_map.cache_clear()
        _labels_by_root.cache_clear()


def tracked_labels() -> tuple[str, ...]:
    """The write clocks a GraphQL fill guards on: one per tracked model, and the one of manual invalidations."""
    return (*invalidation_map(), MANUAL_CLOCK)


def guarding_labels(families: Iterable[str]) -> set[str]:
    """The write clocks that guard a fill whose entry lists these families (those found while computing, which the
    ticket could not read first): the models whose writes can move one of them, i.e. the models of its rows
    (`@errands.errand:5`, `@errands.errand`, `queryset:errands.errand`) and those whose CACHE_INVALIDATION
    templates bump one of its families (`errand_list` -> errands.errand), and manual invalidations. A write to any
    other model moves nothing the entry lists, so it does not hold the fill off (docs/caching.md)."""
    labels = {MANUAL_CLOCK}
    by_root = _labels_by_root()
    for family in families:
        if family.startswith("@"):
            labels.add(family[1:].split(":", 1)[0])
        elif family.startswith("queryset:"):
            labels.add(family.split(":", 1)[1])
        else:
            labels |= by_root.get(family.split(":", 1)[0], frozenset())
    return labels


def _resolve(template: str, instance: models.Model, written: frozenset[str] | None) -> str | None:
    context = {}
    for name in _PLACEHOLDER.findall(template):
        head = name.split(".")[0]
        if written is not None and head not in written:
            # save(update_fields=...) left this column as the database has it, which the instance may not know:
            # bump the template's root, every family it could name.
            return template.split(":", 1)[0]
        value = getattr(instance, head, None)
        if value is None:
            return None  # runner_id is None: there is no such family to bump
        context[head] = value
    return strip_prefix(make_key(template, context))


def _written(model: type[models.Model], update_fields) -> frozenset[str] | None:
    """Attribute names whose values the save wrote (None: all of them)."""
    if update_fields is None:
        return None
    names = set(update_fields) | {"pk", model._meta.pk.attname}
    for field in model._meta.concrete_fields:
        if field.name in names or field.attname in names:
            names |= {field.name, field.attname}
    return frozenset(names)


def row_families(instance: models.Model, update_fields=None) -> list[str]:
    model = type(instance)
    written = _written(model, update_fields)
    families = [row_family(model, instance.pk), queryset_family(model)]
    for template in _templates(model):
        family = _resolve(template, instance, written)
        if family is not None:
            families.append(family)
    return families


def model_families(model: type[models.Model]) -> list[str]:
    """Every family a write to some unknown row of `model` could touch: the templates' roots."""
    roots = {template.split(":", 1)[0] for template in _templates(model)}
    return [type_family(model), queryset_family(model), *sorted(roots)]


# --- transactions -------------------------------------------------------------------------------------------------
# No fill happens inside a transaction: under snapshot isolation (PostgreSQL REPEATABLE READ, SQLite WAL) it may
# compute from a snapshot older than the generations it reads. A transaction that has written ("dirty") must not
# even read the cache: it must see its own writes. The dirty marker is the outermost Atomic of the transaction
# that wrote, so it dies with that transaction whatever its outcome; a later transaction has another outermost
# Atomic. In manual transaction management (autocommit off, no atomic block) the marker is the connection's.


def _manual(connection) -> bool:
    """Manual transaction management: autocommit off outside any atomic block (inside one it is off anyway).
    Not get_autocommit(): that would open a connection just to ask (and fail where the database is off limits)."""
    return not connection.in_atomic_block and connection.connection is not None and not connection.autocommit


def in_transaction(using: str = DEFAULT_DB_ALIAS) -> bool:
    connection = connections[using]
    return connection.in_atomic_block or _manual(connection)


def _transaction_marker(connection) -> object | None:
    if connection.in_atomic_block and connection.atomic_blocks:
        return connection.atomic_blocks[0]
    return connection if _manual(connection) else None


def mark_dirty(using: str) -> None:
    connection = connections[using]
    marker = _transaction_marker(connection)
    if marker is not None:
        connection.runam_dirty_block = marker


def in_dirty_transaction(using: str = DEFAULT_DB_ALIAS) -> bool:
    connection = connections[using]
    marker = _transaction_marker(connection)
    return marker is not None and getattr(connection, "runam_dirty_block", None) is marker


def _after_commit(callback, using: str) -> None:
    connection = connections[using]
    if not _manual(connection):
        # At once in autocommit; inside a transaction only if and when it commits. robust: a failure here must
        # not cancel other hooks (and an earlier failing hook only leaves our write pending until it expires).
        transaction.on_commit(callback, using=using, robust=True)
    # Manual transaction management has no commit hook: the write's pending mark expires instead.


# --- writes -------------------------------------------------------------------------------------------------------
# A write is begun before its SQL runs (fresh tokens for what it touches, and a pending mark on its model's clock
# that stops guarded fills) and settled after commit (fresh tokens again, mark lifted). So no read that starts
# after the commit can be answered by an entry computed from the data before it.


def _begin(
    model: type[models.Model], families: Iterable[str], using: str, *, rows: bool
) -> tuple[str | None, list[str]]:
    """`rows`: a write of known rows, whose families are all it can change (only fills showing one of them are held
    off); otherwise a write of unknown rows, which holds off every guarded fill of the model."""
    families = list(families)
    mark_dirty(using)
    return get_store().begin_write(families=families, clocks=[model._meta.label_lower], rows=rows), families


def _settle(
    model: type[models.Model], write: tuple[str | None, list[str]], families: Iterable[str], using, *, rows: bool
) -> None:
    write_id, begun = write
    every = list(dict.fromkeys([*begun, *families]))
    label = model._meta.label_lower
    _after_commit(lambda: get_store().settle_write(write_id, families=every, clocks=[label], rows=rows), using)


def _before_row_write(sender, instance, using, update_fields=None, **kwargs) -> None:
    if sender._meta.label_lower not in invalidation_map():
        return
    write = _begin(sender, row_families(instance, update_fields), using, rows=True)
    instance.__dict__.setdefault("_runam_writes", []).append(write)


def _after_row_write(sender, instance, using, update_fields=None, **kwargs) -> None:
    if sender._meta.label_lower not in invalidation_map():
        return
    begun = instance.__dict__.get("_runam_writes") or [(None, [])]
    write = begun.pop()
    # After an insert the primary key is known: the row's own generation joins the families.
    _settle(sender, write, row_families(instance, update_fields), using, rows=True)


def invalidate(families: Iterable[str], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Invalidate families that no model write names (after raw SQL, from CacheManager.invalidate): at once, and
    inside a transaction once more after its commit, with guarded fills held off in between."""
    families = list(families)
    store = get_store()
    if not in_transaction(using):
        store.bump(families=families, clocks=[MANUAL_CLOCK])
        return
    mark_dirty(using)
    write_id = store.begin_write(families=families, clocks=[MANUAL_CLOCK])
    _after_commit(lambda: store.settle_write(write_id, families=families, clocks=[MANUAL_CLOCK]), using)


class TrackedQuerySet(models.QuerySet):
    """A QuerySet whose bulk writes, which send no per-row signals, invalidate the whole model."""

    def _bulk(self, write, using: str | None = None):
        using = using or self.db
        begun = _begin(self.model, model_families(self.model), using, rows=False)
        result = write()
        _settle(self.model, begun, (), using, rows=False)
        return result

    def update(self, **kwargs):
        return self._bulk(lambda: super(TrackedQuerySet, self).update(**kwargs))

    def bulk_update(self, objs, fields, batch_size=None):
        return self._bulk(lambda: super(TrackedQuerySet, self).bulk_update(objs, fields, batch_size=batch_size))

    def bulk_create(self, objs, *args, **kwargs):
        write = lambda: super(TrackedQuerySet, self).bulk_create(objs, *args, **kwargs)  # noqa: E731
        return self._bulk(write, router.db_for_write(self.model))

    def delete(self):
        # Rows deleted here also send pre/post_delete one by one; the model-wide bump covers fast-deleted cascades.
        return self._bulk(lambda: super(TrackedQuerySet, self).delete())


TrackedManager = models.Manager.from_queryset(TrackedQuerySet)


def connect() -> None:
    """Wire the signals; refuse a tracked model whose manager would let bulk writes slip past."""
    for label in invalidation_map():
        model = apps.get_model(label)
        if not isinstance(model._default_manager.get_queryset(), TrackedQuerySet):
            raise ImproperlyConfigured(
                f"{model._meta.label} is in CACHE_INVALIDATION but its default manager does not use "
                "core.cache.invalidation.TrackedQuerySet, so QuerySet.update()/bulk_create() would not invalidate"
            )
    # For every sender, filtered by label in the receivers, so that historical models (data migrations) count.
    pre_save.connect(_before_row_write, dispatch_uid="runam-cache-pre-save")
    post_save.connect(_after_row_write, dispatch_uid="runam-cache-save")
    pre_delete.connect(_before_row_write, dispatch_uid="runam-cache-pre-delete")
    post_delete.connect(_after_row_write, dispatch_uid="runam-cache-delete")
    # Bulk writes through a historical model's plain manager send nothing at all: after migrate, start afresh.
    post_migrate.connect(_after_migrate, dispatch_uid="runam-cache-migrate")


def _after_migrate(**kwargs) -> None:
    get_store().bump_epoch()
