"""Values as JSON text: what comes back from Redis is parsed, never unpickled.

Types JSON lacks travel as tagged objects `{"__t": tag, "v": ...}`. A user dict that has a `__t` key (or
non-string keys) is itself tagged, so no stored data can pass for a tag.

Model instances travel as their label, database alias, loaded concrete field values and the related objects
`select_related` had loaded, and come back through `Model.from_db` without a query. A queryset is evaluated and
stored as the list of its rows. Only models whose writes are tracked (settings.CACHE_INVALIDATION) can be stored:
`dumps_tracked` names the generations such a value depends on, so that the same signals drop it.
"""

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.db import models

TAG = "__t"


@dataclass
class Tracked:
    """What a value's model instances depend on: generation families and the write clocks of their models."""

    families: set[str] = field(default_factory=set)
    labels: set[str] = field(default_factory=set)
    open: set[int] = field(default_factory=set)  # ids of the instances being encoded: related objects loop back


def _encode(value: Any, seen: Tracked, nested: bool = False) -> Any:
    # `nested`: inside a container, where a model instance may stand for a list's membership (see _track).
    if value is None or isinstance(value, (str, int, float)):  # bool is an int
        return value
    if isinstance(value, list):
        return [_encode(item, seen, True) for item in value]
    if isinstance(value, dict):
        if TAG in value or not all(isinstance(key, str) for key in value):
            pairs = [[_encode(key, seen, True), _encode(item, seen, True)] for key, item in value.items()]
            return {TAG: "map", "v": pairs}
        return {key: _encode(item, seen, True) for key, item in value.items()}
    if isinstance(value, models.Model):
        return _encode_instance(value, seen, in_list=nested)
    if isinstance(value, models.QuerySet):
        # Evaluated once here (the caller's queryset keeps its rows); stored and returned as a list.
        rows = list(value)
        if value._iterable_class is models.query.ModelIterable:
            return [_encode_instance(row, seen, in_list=True) for row in rows]
        _track(value.model, None, seen, in_list=True)
        return [_encode(row, seen, True) for row in rows]
    if isinstance(value, tuple):
        return {TAG: "tuple", "v": [_encode(item, seen, True) for item in value]}
    if isinstance(value, frozenset):
        return {TAG: "frozenset", "v": [_encode(item, seen, True) for item in value]}
    if isinstance(value, set):
        return {TAG: "set", "v": [_encode(item, seen, True) for item in value]}
    if isinstance(value, datetime):  # before date: a datetime is a date
        return {TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, date):
        return {TAG: "date", "v": value.isoformat()}
    if isinstance(value, time):
        return {TAG: "time", "v": value.isoformat()}
    if isinstance(value, Decimal):
        return {TAG: "decimal", "v": str(value)}
    if isinstance(value, uuid.UUID):
        return {TAG: "uuid", "v": str(value)}
    if isinstance(value, bytes):
        return {TAG: "bytes", "v": base64.b64encode(value).decode("ascii")}
    raise TypeError(f"cannot cache a {type(value).__name__}: store plain data (dicts, lists, str, numbers, dates)")


def _track(model: type[models.Model], pk: Any, seen: Tracked, *, in_list: bool) -> None:
    from core.cache.invalidation import invalidation_map, queryset_family, row_family, type_family

    label = model._meta.label_lower
    if label not in invalidation_map():
        # Its writes bump nothing, so nothing would ever drop the entry: refuse rather than serve stale rows.
        raise TypeError(f"cannot cache a {model._meta.label} instance: its writes are not tracked (CACHE_INVALIDATION)")
    seen.labels.add(label)
    # A row write bumps the row and `queryset:<label>`; a bulk write the type and `queryset:<label>`. An instance in
    # a container may be one of a list that can gain or lose rows, which only `queryset:<label>` says.
    seen.families.add(queryset_family(model) if in_list else type_family(model))
    if pk is not None:
        seen.families.add(row_family(model, pk))


def _encode_instance(obj: models.Model, seen: Tracked, *, in_list: bool) -> dict[str, Any]:
    model = type(obj)
    if obj.pk is None:
        raise TypeError(f"cannot cache an unsaved {model._meta.label}")
    _track(model, obj.pk, seen, in_list=in_list)
    # Only loaded fields: reading a deferred one (only()/defer()) would query, here and after decoding.
    loaded = [f.attname for f in model._meta.concrete_fields if f.attname in obj.__dict__]
    seen.open.add(id(obj))
    # A profile loaded with its user points back at that user: the back reference is left out, not looped on.
    related = {
        name: None if other is None else _encode_instance(other, seen, in_list=in_list)
        for name, other in obj._state.fields_cache.items()
        if other is None or (isinstance(other, models.Model) and id(other) not in seen.open)
    }
    seen.open.discard(id(obj))
    values = [_encode(obj.__dict__[name], seen) for name in loaded]
    return {TAG: "model", "v": [model._meta.label_lower, obj._state.db, loaded, values, related]}


def _decode_instance(payload: list[Any]) -> models.Model:
    label, db, loaded, values, related = payload
    obj = apps.get_model(label).from_db(db, loaded, values)
    obj._state.fields_cache.update(related)
    return obj


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "map": lambda pairs: {key: item for key, item in pairs},
    "tuple": tuple,
    "set": set,
    "frozenset": frozenset,
    "datetime": datetime.fromisoformat,
    "date": date.fromisoformat,
    "time": time.fromisoformat,
    "decimal": Decimal,
    "uuid": uuid.UUID,
    "bytes": lambda text: base64.b64decode(text),
    "model": _decode_instance,
}


def _decode(obj: dict[str, Any]) -> Any:
    # json calls this innermost first, so a tag's payload is already decoded; user dicts never reach here
    # with a TAG key because _encode wrapped them in "map".
    if TAG not in obj:
        return obj
    decoder = _DECODERS.get(obj[TAG])
    if decoder is None or len(obj) != 2 or "v" not in obj:
        raise ValueError(f"not a cached value: unknown tag {obj[TAG]!r}")
    return decoder(obj["v"])


def dumps(value: Any) -> str:
    return dumps_tracked(value)[0]


def dumps_tracked(value: Any) -> tuple[str, Tracked]:
    """The JSON text and what its model instances depend on (empty for plain data)."""
    seen = Tracked()
    return json.dumps(_encode(value, seen), separators=(",", ":"), ensure_ascii=False), seen


def loads(text: str | bytes) -> Any:
    return json.loads(text, object_hook=_decode)


class TextSerializer:
    """django-redis SERIALIZER: our values are already text (JSON or entries), so only UTF-8 is applied."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        pass

    def dumps(self, value: Any) -> bytes:
        if isinstance(value, bytes):
            return value
        if isinstance(value, str):
            return value.encode()
        raise TypeError(f"the cache stores text; serialize a {type(value).__name__} with core.cache.serializers.dumps")

    def loads(self, value: bytes | str) -> str:
        return value.decode() if isinstance(value, bytes) else value
