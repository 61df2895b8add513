"""The one place that builds cache keys.

A key is `{prefix}:{resolved template}`. Template text is the developer's; every value put into it is escaped
(or hashed), so no value can end a segment early, collide with another value, carry a glob character into a
pattern, or turn into an internal `_` key. `~` appears only in the markers this module writes.
"""

import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any
from urllib.parse import quote

from core.cache.conf import key_prefix

MAX_KEY_LENGTH = 250
# The write clock of invalidations that name no model (CacheManager.invalidate, clear_cache): guarded fills watch it.
MANUAL_CLOCK = "*"
# Whole GraphQL responses (core/cache/operations.py) live under this family.
OPERATION_FAMILY = "gql"
MAX_VALUE_LENGTH = 64
_HEAD_LENGTH = 200
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\s*\}\}")
# Characters a template may carry as they are; anything else (whitespace, globs, `~`, `%`) is percent-encoded.
_LITERAL_UNSAFE = re.compile(r"[^A-Za-z0-9_.:@/-]")
_GLOB_CHARS = frozenset("*?[]\\")


def backend_key(key: str, key_prefix: str, version: int) -> str:
    """Django KEY_FUNCTION: our keys arrive whole, so the backend must not add its own prefix or version."""
    return key


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _json_default(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(canonical_json(item) for item in value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, (Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if hasattr(value, "_meta") and hasattr(value, "pk"):
        return value.pk
    return str(value)


def canonical_json(value: Any) -> str:
    """JSON that is the same for equal data, whatever the dict order (the input of every hash)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def _escape(text: str) -> str:
    # quote() keeps `~` unreserved; we need it free for our markers.
    escaped = quote(text, safe="").replace("~", "%7E")
    return escaped if len(escaped) <= MAX_VALUE_LENGTH else "~" + _digest(escaped)


def render_value(value: Any) -> str:
    """One key segment for a value: the same value always gives the same segment, distinct strings never do."""
    if value is None:
        return "~n"
    if value is True or value is False:
        return "~t" if value else "~f"
    if isinstance(value, Enum):
        value = value.value
    if hasattr(value, "_meta") and hasattr(value, "pk"):  # a model instance stands for its primary key
        value = value.pk
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        return _escape(canonical_json(value))
    return _escape(str(value))


def _bounded(key: str) -> str:
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return key[:_HEAD_LENGTH] + "~" + _digest(key)


def _lookup(context: Mapping[str, Any], dotted: str) -> Any:
    head, *rest = dotted.split(".")
    if head not in context:
        raise ValueError(f"cache key template needs {{{{{dotted}}}}} but no value named {head!r} was given")
    value = context[head]
    for name in rest:
        if isinstance(value, Mapping):
            if name not in value:
                raise ValueError(f"cache key template needs {{{{{dotted}}}}}: {name!r} is missing")
            value = value[name]
        elif hasattr(value, name):
            value = getattr(value, name)
        else:
            raise ValueError(f"cache key template needs {{{{{dotted}}}}}: {name!r} is missing")
    return value


def _literal(text: str, *, keep_star: bool) -> str:
    def encode(match: re.Match[str]) -> str:
        char = match.group(0)
        return char if keep_star and char == "*" else quote(char, safe="").replace("~", "%7E")

    return _LITERAL_UNSAFE.sub(encode, text)


def _resolve(template: str, context: Mapping[str, Any] | None, hash_params: Iterable[str], *, keep_star: bool) -> str:
    if not template:
        raise ValueError("cache key template is empty")
    if template.startswith("_"):
        raise ValueError(f"cache key template {template!r} starts with '_', which is reserved for internal keys")
    context = context or {}
    hashed = set(hash_params)
    parts: list[str] = []
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        parts.append(_literal(template[position : match.start()], keep_star=keep_star))
        name = match.group(1)
        value = _lookup(context, name)
        parts.append("~" + _digest(canonical_json(value)) if name in hashed else render_value(value))
        position = match.end()
    parts.append(_literal(template[position:], keep_star=keep_star))
    # hash_params the template does not show still have to tell keys apart: they go in one hashed tail segment.
    placed = set(_PLACEHOLDER.findall(template))
    extra = {name: _lookup(context, name) for name in sorted(hashed - placed)}
    if extra:
        parts.append(":~" + _digest(canonical_json(extra)))
    resolved = "".join(parts)
    if resolved.startswith("_"):  # only a value can start with `_` here; keep it out of the internal namespace
        resolved = "%5F" + resolved[1:]
    return resolved


def make_key(template: str, context: Mapping[str, Any] | None = None, *, hash_params: Iterable[str] = ()) -> str:
    """`make_key("user:{{user.id}}:profile", {"user": user})` → `"runam:user:42:profile"`."""
    return _bounded(f"{key_prefix()}:{_resolve(template, context, hash_params, keep_star=False)}")


def make_pattern(template: str, context: Mapping[str, Any] | None = None) -> str:
    """Like make_key, but a `*` written in the template stays a glob; values still cannot add one."""
    pattern = f"{key_prefix()}:{_resolve(template, context, (), keep_star=True)}"
    return pattern if "*" in pattern else _bounded(pattern)


def get_cache_key(*parts: Any) -> str:
    """`get_cache_key("user", 42, "profile")` → `"runam:user:42:profile"`, every part escaped."""
    if not parts:
        raise ValueError("get_cache_key needs at least one part")
    resolved = ":".join(render_value(part) for part in parts)
    if resolved.startswith("_"):
        resolved = "%5F" + resolved[1:]
    return _bounded(f"{key_prefix()}:{resolved}")


def strip_prefix(key: str) -> str:
    head = key_prefix() + ":"
    return key[len(head) :] if key.startswith(head) else key


def with_prefix(key: str) -> str:
    head = key_prefix() + ":"
    return key if key.startswith(head) else head + strip_prefix(key)


def family_of(key: str) -> str:
    """The stats family of a key: its first segment (`user` for `runam:user:42:profile`)."""
    return strip_prefix(key).split(":", 1)[0]


def prefix_families(key: str) -> list[str]:
    """Every family an entry belongs to: `runam:user:42:profile` → `["user", "user:42", "user:42:profile"]`."""
    segments = strip_prefix(key).split(":")
    return [":".join(segments[: n + 1]) for n in range(len(segments))]


def gen_key(family: str) -> str:
    return _bounded(f"{key_prefix()}:_g:{family}")


def clock_key(label: str) -> str:
    """A model's write clock: a hash holding its token (`t`) and the pending marks of writes in flight, so that
    eviction can only ever take the two together (see docs/caching.md, "Design: cache space")."""
    return _bounded(f"{key_prefix()}:_c:{label}")


def row_family(label: str, pk: object) -> str:
    """The family of one model row (`@errands.errand:5`). On Redis it is a *tag*: a set of the entries that show the
    row, emptied by the row's writes, instead of a generation every hit would have to read."""
    return f"@{label}:{pk}"


def type_family(label: str) -> str:
    """What a bulk write of the model (rows unknown) bumps; every entry showing one of its rows outside a list lists
    it, and those in a list list queryset_family()."""
    return f"@{label}"


def queryset_family(label: str) -> str:
    return f"queryset:{label}"


def is_row_family(family: str) -> bool:
    return family.startswith("@") and ":" in family


def tag_of(family: str) -> tuple[str, str]:
    """Where a row family's tag lives on Redis: its model's tag hash (`_t:@label`, one key per model) and the row's
    field in it, which lists the entries that show the row."""
    label, row = family.split(":", 1)
    return _bounded(f"{key_prefix()}:_t:{label}"), row


def tag_glob() -> str:
    """Every tag hash."""
    return f"{key_prefix()}:_t:*"


def stamps_key_of(clock: str) -> str:
    """The stamps hash next to a write clock (`runam:_c:errands.errand` -> `runam:_s:errands.errand`)."""
    head = key_prefix() + ":_c:"
    return key_prefix() + ":_s:" + clock[len(head) :] if clock.startswith(head) else clock + ":_s"


def generation_glob(glob: str) -> str:
    """The generations of the families a glob (relative to the prefix) matches, as a glob over the keyspace."""
    return scoped_glob("_g:" + strip_prefix(glob))


def homes_key() -> str:
    """A counter each process increments once to pick its home among the partitions (store.py)."""
    return f"{key_prefix()}:_homes"


def runid_key() -> str:
    return f"{key_prefix()}:_runid"


def epoch_key() -> str:
    return f"{key_prefix()}:_epoch"


def lock_key(key: str) -> str:
    return _bounded(f"{key_prefix()}:_lock:{strip_prefix(key)}")


def stats_key() -> str:
    return f"{key_prefix()}:_stats"


def is_internal(key: str) -> bool:
    return strip_prefix(key).startswith("_")


def has_glob(text: str) -> bool:
    return any(char in _GLOB_CHARS for char in text)


def family_from_pattern(glob: str) -> str | None:
    """The family a glob names, when bumping it is enough: `user:42:*` → `user:42`; None means "must scan"."""
    glob = strip_prefix(glob)
    if not has_glob(glob):
        return glob or None
    if glob.endswith(":*") and not has_glob(glob[:-2]) and glob[:-2]:
        return glob[:-2]
    return None


def scoped_glob(glob: str) -> str:
    """A glob relative to our prefix (given with or without it) as a glob over the whole keyspace."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", key_prefix()) + ":" + strip_prefix(glob)


def _glob_class(glob: str, start: int) -> tuple[str, int]:
    """The regex for the `[...]` opened at start, and the index of its last character, read as Redis reads it:
    `^` negates, `x-y` is a range (either order), `\\x` is a literal x, and a class left open runs to the end."""
    j = start + 1
    negate = j < len(glob) and glob[j] == "^"
    j += negate
    items: list[str] = []
    while j < len(glob) and glob[j] != "]":
        if glob[j] == "\\" and j + 1 < len(glob):
            items.append(re.escape(glob[j + 1]))
            j += 2
        elif j + 2 < len(glob) and glob[j + 1] == "-":
            low, high = sorted((glob[j], glob[j + 2]))
            items.append(f"{re.escape(low)}-{re.escape(high)}")
            j += 3
        else:
            items.append(re.escape(glob[j]))
            j += 1
    end = min(j, len(glob) - 1)
    if not items:
        return ("." if negate else "(?!)"), end
    return "[" + ("^" if negate else "") + "".join(items) + "]", end


def glob_regex(glob: str) -> re.Pattern[str]:
    """Redis glob semantics (`*`, `?`, `[...]`, `[^...]`, `\\x`) for LocMem, which has no SCAN MATCH."""
    out, i = [], 0
    while i < len(glob):
        char = glob[i]
        if char == "\\" and i + 1 < len(glob):
            out.append(re.escape(glob[i + 1]))
            i += 1
        elif char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[":
            regex, i = _glob_class(glob, i)
            out.append(regex)
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)
