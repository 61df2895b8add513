"""One typed object per GraphQL request for what its caching parts share, instead of loose request attributes.

The view creates it (`begin`), the field middleware and the execution context read it (`of`):
- `report`: each cached field's outcome (path, field, ttl, family, status), for `extensions.cache` and the logs;
- `operation_recorder`: the families the response shows, filled in while it executes, when the whole response
  is being filled (None otherwise);
- `executing`: set by CachingExecutionContext, which tells the field middleware that its markers (a cached value,
  a pending fill) will be understood; a schema executed some other way gets plain values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_ATTRIBUTE = "_runam_cache"


@dataclass(slots=True)
class RequestCache:
    report: list[dict] = field(default_factory=list)
    operation_recorder: set[str] | None = None
    executing: bool = False


def begin(request: Any) -> RequestCache:
    """A fresh state for this request (the view calls it once, before anything is read from the cache)."""
    state = RequestCache()
    setattr(request, _ATTRIBUTE, state)
    return state


def of(request: Any) -> RequestCache | None:
    """This request's state; None for a request no view began (a schema executed directly, a test's context)."""
    return getattr(request, _ATTRIBUTE, None) if request is not None else None
