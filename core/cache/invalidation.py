"""Automatic invalidation: every write to a tracked model bumps, after commit, what could show it.

A write bumps three things (see docs/caching.md):
- the model's write clock, which makes any guarded store computed during the write a no-op;
- the row's generation (`@errands.errand:5`), which every cached result that showed the row lists;
- the families of settings.CACHE_INVALIDATION (list membership: `errand_list`, `user_errands:7`, ...).
Bulk writes whose rows are unknown (`update`, `bulk_update`, `bulk_create`) bump the model's type generation and
every family root the model names instead. What a write's settle bumps is also recorded in the outbox, in the
write's transaction, so that it is applied even if the writer cannot (core/cache/outbox.py).
"""

from __future__ import annotations

import logging
import re
import weakref
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from functools import cache

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import DEFAULT_DB_ALIAS, connections, models, router, transaction
from django.db.models.signals import post_delete, post_migrate, post_save, pre_delete, pre_migrate, pre_save
from django.dispatch import receiver

from core.cache import keys, outbox
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


# --- writes -------------------------------------------------------------------------------------------------------
# A write is begun before its SQL runs (fresh tokens for what it touches, and a pending mark on its model's clock
# that stops guarded fills), recorded in the outbox in its own transaction, and settled after commit (fresh tokens
# again, mark lifted, outbox row deleted). So no read that starts after the commit can be answered by an entry
# computed from the data before it, and what a writer could not settle (the backend did not answer, or the process
# died right after its commit) is settled by the relay from the outbox (core/cache/outbox.py, relay.py).

_migrating = False  # between pre_migrate and post_migrate: the outbox table may not exist yet


class _Write:
    """One write's invalidation, from its begin (before the SQL) to its settle (after commit).

    In a transaction it is a commit hook. Django has no rollback hook, but a rollback (of the transaction, or of the
    savepoint the write was made in) discards the commit hooks registered in it; the finalizer then settles at once,
    so that a failed write's mark does not hold off fills until CACHE_WRITE_PENDING_TTL. Only Django's list of commit
    hooks holds a hooked write (the instance being saved holds a weak reference), so CPython frees it, and the
    finalizer runs, the moment the rollback drops that list.
    """

    def __init__(
        self, label: str, write_id: str | None, families: Iterable[str], using: str, *, rows: bool = False
    ) -> None:
        self.label = label
        self.rows = rows  # a write of known rows (its families are all it can change), else of the whole model
        self.write_id = write_id
        self.families = list(dict.fromkeys(families))
        self.using = using
        self.row: outbox.Row | None = None
        self._finalizer: weakref.finalize | None = None

    @property
    def hooked(self) -> bool:
        return self._finalizer is not None

    def hook(self) -> None:
        # The finalizer gets the families list itself (never self): families added later are settled too.
        self._finalizer = weakref.finalize(self, _settle_dropped, self.write_id, self.families, self.label, self.rows)
        # robust: a failure here must not cancel other hooks (an earlier failing hook drops ours: the finalizer
        # settles then, and the relay applies the outbox row).
        transaction.on_commit(self, using=self.using, robust=True)

    def add(self, families: Iterable[str]) -> None:
        self.families.extend(family for family in families if family not in self.families)

    def record(self) -> None:
        """The outbox row, in the write's transaction. During migrate there is none: the table may not exist yet,
        and migrate bumps the epoch when it ends."""
        if not _migrating:
            self.row = outbox.record(
                using=self.using, write_id=self.write_id, families=self.families, clocks=[self.label]
            )

    def __call__(self) -> None:
        """After commit (or at once in autocommit): settle, and delete the outbox row once the settle is done."""
        if self._finalizer is not None:
            self._finalizer.detach()
        applied = get_store().settle_write(self.write_id, families=self.families, clocks=[self.label], rows=self.rows)
        outbox.settled(self.row, applied=applied)


def _settle_dropped(write_id: str | None, families: list[str], label: str, rows: bool) -> None:
    """A hooked write whose hook was dropped: rolled back (or an earlier commit hook raised). Settling a write that
    did not happen only moves tokens again. Never raises: it may run inside Django's rollback."""
    try:
        get_store().settle_write(write_id, families=families, clocks=[label], rows=rows)
    except Exception:
        logger.exception("a rolled-back write could not be settled; its pending mark expires instead")


def _held(write: _Write) -> Callable[[], _Write | None]:
    """How others keep a write between its begin and its record: weakly once its transaction holds it, so that
    nothing but a rollback decides when it goes."""
    return weakref.ref(write) if write.hooked else (lambda: write)


def _begin(label: str, families: Iterable[str], using: str, *, rows: bool) -> _Write:
    """`rows`: a write of known rows, whose families are all it can change (only fills showing one of them are held
    off); otherwise a write of unknown rows, which holds off every guarded fill of the model."""
    families = list(families)
    mark_dirty(using)
    write_id = get_store().begin_write(families=families, clocks=[label], rows=rows)
    write = _Write(label, write_id, families, using, rows=rows)
    if connections[using].in_atomic_block:
        write.hook()
    # Manual transaction management has no commit hook: the outbox row commits with the transaction and the relay
    # settles it; a rollback takes the row with it, and the mark expires.
    return write


def _before_row_write(sender, instance, using, update_fields=None, **kwargs) -> None:
    if sender._meta.label_lower not in invalidation_map():
        return
    write = _begin(sender._meta.label_lower, row_families(instance, update_fields), using, rows=True)
    instance.__dict__.setdefault("_runam_writes", []).append(_held(write))


def _after_row_write(sender, instance, using, update_fields=None, **kwargs) -> None:
    label = sender._meta.label_lower
    if label not in invalidation_map():
        return
    held = instance.__dict__.get("_runam_writes")
    write = held.pop()() if held else None
    if write is None:
        write = _Write(label, None, (), using, rows=True)
        if connections[using].in_atomic_block:
            write.hook()
    # After an insert the primary key is known: the row's own generation joins the families.
    write.add(row_families(instance, update_fields))
    write.record()
    if not in_transaction(using):
        # Autocommit without a transaction of ours around it (a historical model in a non-atomic migration; a
        # TrackedModel save is always in one): the write has committed, and its row just after it.
        write()


def invalidate(families: Iterable[str], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Invalidate families that no model write names (after raw SQL, from CacheManager.invalidate): at once, and
    inside a transaction once more after its commit, with guarded fills held off in between and an outbox row in
    the transaction."""
    families = list(families)
    if not in_transaction(using):
        get_store().bump(families=families, clocks=[MANUAL_CLOCK])
        return
    _begin(MANUAL_CLOCK, families, using, rows=False).record()


def _own_transaction(using: str) -> AbstractContextManager:
    """Outside a transaction, one of our own, so that a write and its outbox row commit together (Django runs a
    lone save() or update() as one autocommitted statement) and a write that fails rolls back and settles at once.
    Inside one, that transaction's outcome decides, as it would without the cache."""
    return nullcontext() if in_transaction(using) else transaction.atomic(using=using)


class TrackedModel(models.Model):
    """Base of every tracked model (connect() refuses one without it): its save() outside a transaction runs in
    one. Only save_base() is wrapped, with Django's own signature (pinned by a test); its flow is Django's."""

    class Meta:
        abstract = True

    def save_base(self, raw=False, force_insert=False, force_update=False, using=None, update_fields=None):
        using = using or router.db_for_write(self.__class__, instance=self)
        tracked = self._meta.label_lower in invalidation_map()
        with _own_transaction(using) if tracked else nullcontext():
            super().save_base(
                raw=raw, force_insert=force_insert, force_update=force_update, using=using, update_fields=update_fields
            )


# An update() of at most this many rows reads their keys first and invalidates only them (TrackedQuerySet.update).
UPDATE_ROWS_KNOWN = 100


def updated_families(model: type[models.Model], pks: Iterable[object]) -> list[str]:
    """What an update of these rows can change: each row's families, and the templates' families, resolved with the
    primary key where that is all a template names, else whole (their root)."""
    pks = list(pks)
    families = [queryset_family(model), *(row_family(model, pk) for pk in pks)]
    pk_names = {"id", "pk", model._meta.pk.attname, model._meta.pk.name}
    for template in _templates(model):
        names = {name.split(".")[0] for name in _PLACEHOLDER.findall(template)}
        if names <= pk_names:
            families += [strip_prefix(make_key(template, dict.fromkeys(names, pk))) for pk in pks]
        else:
            families.append(template.split(":", 1)[0])
    return list(dict.fromkeys(families))


class TrackedQuerySet(models.QuerySet):
    """A QuerySet whose bulk writes, which send no per-row signals, invalidate the whole model."""

    def _bulk(self, write, using: str | None = None):
        using = using or self.db
        with _own_transaction(using):
            held = _held(_begin(self.model._meta.label_lower, model_families(self.model), using, rows=False))
            result = write()
            if (begun := held()) is not None:
                begun.record()
        return result

    def update(self, **kwargs):
        """An update of at most UPDATE_ROWS_KNOWN rows is a write of known rows: their primary keys are read first
        (one SELECT, in the update's transaction), the update is restricted to them (so it writes no row it did not
        name), and it moves their families (`@errands.errand:5`, `errand:5`; a template naming another column is
        moved whole, `user_errands`), holding off only fills that show one of them. More rows: the whole model."""
        using = self.db
        if self.query.is_sliced:
            return self._bulk(lambda: super(TrackedQuerySet, self).update(**kwargs))
        with _own_transaction(using):
            pks = list(self.values_list("pk", flat=True)[: UPDATE_ROWS_KNOWN + 1])
            if len(pks) > UPDATE_ROWS_KNOWN:
                return self._bulk(lambda: super(TrackedQuerySet, self).update(**kwargs))
            label = self.model._meta.label_lower
            held = _held(_begin(label, updated_families(self.model, pks), using, rows=True))
            result = models.QuerySet.update(self.filter(pk__in=pks), **kwargs)
            if (begun := held()) is not None:
                begun.record()
        return result

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
    """Wire the signals; refuse a tracked model whose manager would let bulk writes slip past, or whose lone save()
    would commit without its outbox row."""
    for label in invalidation_map():
        model = apps.get_model(label)
        if not isinstance(model._default_manager.get_queryset(), TrackedQuerySet):
            raise ImproperlyConfigured(
                f"{model._meta.label} is in CACHE_INVALIDATION but its default manager does not use "
                "core.cache.invalidation.TrackedQuerySet, so QuerySet.update()/bulk_create() would not invalidate"
            )
        if not issubclass(model, TrackedModel):
            raise ImproperlyConfigured(
                f"{model._meta.label} is in CACHE_INVALIDATION but does not extend "
                "core.cache.invalidation.TrackedModel, so a save() outside a transaction would commit without its "
                "outbox row"
            )
    # For every sender, filtered by label in the receivers, so that historical models (data migrations) count.
    pre_save.connect(_before_row_write, dispatch_uid="runam-cache-pre-save")
    post_save.connect(_after_row_write, dispatch_uid="runam-cache-save")
    pre_delete.connect(_before_row_write, dispatch_uid="runam-cache-pre-delete")
    post_delete.connect(_after_row_write, dispatch_uid="runam-cache-delete")
    # Bulk writes through a historical model's plain manager send nothing at all: after migrate, start afresh.
    pre_migrate.connect(_before_migrate, dispatch_uid="runam-cache-pre-migrate")
    post_migrate.connect(_after_migrate, dispatch_uid="runam-cache-migrate")


def _before_migrate(**kwargs) -> None:
    global _migrating
    _migrating = True


def _after_migrate(**kwargs) -> None:
    global _migrating
    _migrating = False
    get_store().bump_epoch()
