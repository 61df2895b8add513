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
from collections.abc import Iterable, Iterator
from functools import cache

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import DEFAULT_DB_ALIAS, connections, models, router, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from core.cache.keys import make_key, strip_prefix
from core.cache.store import get_store

logger = logging.getLogger(__name__)
_PLACEHOLDER = re.compile(r"\{\{\s*([\w.]+)\s*\}\}")


def row_family(model: type[models.Model], pk: object) -> str:
    return f"@{model._meta.label_lower}:{pk}"


def type_family(model: type[models.Model]) -> str:
    return f"@{model._meta.label_lower}"


def queryset_family(model: type[models.Model]) -> str:
    # cache_queryset() keys live under this family.
    return f"queryset:{model._meta.label_lower}"


@cache
def invalidation_map() -> dict[type[models.Model], tuple[str, ...]]:
    raw = getattr(settings, "CACHE_INVALIDATION", {})
    try:
        return {apps.get_model(label): tuple(templates) for label, templates in raw.items()}
    except (LookupError, ValueError) as exc:
        raise ImproperlyConfigured(f"CACHE_INVALIDATION names an unknown model: {exc}") from exc


@receiver(setting_changed)
def _reload(*, setting: str, **kwargs) -> None:
    if setting == "CACHE_INVALIDATION":
        invalidation_map.cache_clear()


def tracked_labels() -> tuple[str, ...]:
    """The write clocks a GraphQL fill guards on: one per tracked model."""
    return tuple(model._meta.label_lower for model in invalidation_map())


def _resolve(template: str, instance: models.Model) -> str | None:
    context = {}
    for name in _PLACEHOLDER.findall(template):
        head = name.split(".")[0]
        value = getattr(instance, head, None)
        if value is None:
            return None  # runner_id is None: there is no such family to bump
        context[head] = value
    return strip_prefix(make_key(template, context))


def row_families(instance: models.Model) -> list[str]:
    model = type(instance)
    families = [row_family(model, instance.pk), queryset_family(model)]
    for template in invalidation_map().get(model, ()):
        family = _resolve(template, instance)
        if family is not None:
            families.append(family)
    return families


def model_families(model: type[models.Model]) -> list[str]:
    """Every family a write to some unknown row of `model` could touch: the templates' roots."""
    roots = {template.split(":", 1)[0] for template in invalidation_map().get(model, ())}
    return [type_family(model), queryset_family(model), *sorted(roots)]


# --- dirty transactions -------------------------------------------------------------------------------------------
# A transaction that has written must neither read from nor fill the cache: what it sees may never commit.
# The marker is the outermost Atomic of the transaction that wrote, so it dies with that transaction whatever its
# outcome (no rollback hook needed); a later transaction has a different outermost Atomic.


def _outermost(connection) -> object | None:
    return connection.atomic_blocks[0] if connection.in_atomic_block and connection.atomic_blocks else None


def mark_dirty(using: str) -> None:
    connection = connections[using]
    block = _outermost(connection)
    if block is not None:
        connection.runam_dirty_block = block


def in_dirty_transaction(using: str = DEFAULT_DB_ALIAS) -> bool:
    connection = connections[using]
    block = _outermost(connection)
    return block is not None and getattr(connection, "runam_dirty_block", None) is block


# --- bumping ------------------------------------------------------------------------------------------------------


def _bump_after_commit(model: type[models.Model], families: Iterable[str], using: str) -> None:
    families = list(families)
    label = model._meta.label_lower
    mark_dirty(using)

    def bump() -> None:
        get_store().bump(families=families, clocks=[label])

    # Outside a transaction on_commit runs at once; inside, only if and when the outermost block commits.
    transaction.on_commit(bump, using=using)


def _on_row_write(sender, instance, using, **kwargs) -> None:
    _bump_after_commit(sender, row_families(instance), using)


def _on_bulk_write(model: type[models.Model], using: str) -> None:
    _bump_after_commit(model, model_families(model), using)


class TrackedQuerySet(models.QuerySet):
    """A QuerySet whose bulk writes, which send no per-row signals, invalidate the whole model."""

    def update(self, **kwargs):
        rows = super().update(**kwargs)
        _on_bulk_write(self.model, self.db)
        return rows

    def bulk_update(self, objs, fields, batch_size=None):
        rows = super().bulk_update(objs, fields, batch_size=batch_size)
        _on_bulk_write(self.model, self.db)
        return rows

    def bulk_create(self, objs, *args, **kwargs):
        created = super().bulk_create(objs, *args, **kwargs)
        _on_bulk_write(self.model, router.db_for_write(self.model))
        return created

    def delete(self):
        # Rows deleted here also send post_delete one by one; the model-wide bump covers fast-deleted cascades.
        result = super().delete()
        _on_bulk_write(self.model, self.db)
        return result


TrackedManager = models.Manager.from_queryset(TrackedQuerySet)


def _tracked_models() -> Iterator[type[models.Model]]:
    yield from invalidation_map()


def connect() -> None:
    """Wire the signals; refuse a tracked model whose manager would let bulk writes slip past."""
    for model in _tracked_models():
        queryset = model._default_manager.get_queryset()
        if not isinstance(queryset, TrackedQuerySet):
            raise ImproperlyConfigured(
                f"{model._meta.label} is in CACHE_INVALIDATION but its default manager does not use "
                "core.cache.invalidation.TrackedQuerySet, so QuerySet.update()/bulk_create() would not invalidate"
            )
        uid = f"runam-cache-{model._meta.label_lower}"
        post_save.connect(_on_row_write, sender=model, dispatch_uid=f"{uid}-save")
        post_delete.connect(_on_row_write, sender=model, dispatch_uid=f"{uid}-delete")
