"""RunAm's cache: decorators, CacheManager and helpers over one generation-validated store (docs/caching.md).

Names load on first use: `core.cache.keys` is imported by the cache backend (KEY_FUNCTION) and
`core.cache.invalidation` by models while apps load, and neither should drag in the whole library (or a cycle).
"""

from importlib import import_module
from typing import Any

_HOMES = {
    "CacheManager": "manager",
    "warmer": "manager",
    "cache_result": "decorators",
    "cacheable": "decorators",
    "invalidate_cache": "decorators",
    "cache_queryset": "helpers",
    "cache_user_data": "helpers",
    "get_cache_key": "helpers",
    "get_cached_user_data": "helpers",
    "invalidate_user_cache": "helpers",
    "make_key": "keys",
    "make_pattern": "keys",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'core.cache' has no attribute {name!r}")
    value = getattr(import_module(f"core.cache.{_HOMES[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
