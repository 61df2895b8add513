"""Values as JSON text: what comes back from Redis is parsed, never unpickled.

Types JSON lacks travel as tagged objects `{"__t": tag, "v": ...}`. A user dict that has a `__t` key (or
non-string keys) is itself tagged, so no stored data can pass for a tag.
"""

import base64
import json
import uuid
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

TAG = "__t"


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float)):  # bool is an int
        return value
    if isinstance(value, list):
        return [_encode(item) for item in value]
    if isinstance(value, dict):
        if TAG in value or not all(isinstance(key, str) for key in value):
            return {TAG: "map", "v": [[_encode(key), _encode(item)] for key, item in value.items()]}
        return {key: _encode(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return {TAG: "tuple", "v": [_encode(item) for item in value]}
    if isinstance(value, frozenset):
        return {TAG: "frozenset", "v": [_encode(item) for item in value]}
    if isinstance(value, set):
        return {TAG: "set", "v": [_encode(item) for item in value]}
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
    return json.dumps(_encode(value), separators=(",", ":"), ensure_ascii=False)


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
