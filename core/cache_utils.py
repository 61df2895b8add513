"""The import path the RunAm caching docs promised (`from core.cache_utils import ...`); the code is core.cache."""

from core.cache import (
    CacheManager,
    cache_queryset,
    cache_result,
    cache_user_data,
    get_cache_key,
    get_cached_user_data,
    invalidate_user_cache,
)

__all__ = [
    "CacheManager",
    "cache_queryset",
    "cache_result",
    "cache_user_data",
    "get_cache_key",
    "get_cached_user_data",
    "invalidate_user_cache",
]
