"""System checks for deployments that would break the cache's promise without failing loudly."""

from django.conf import settings
from django.core.checks import Warning, register


@register(deploy=True)
def check_shared_cache(app_configs, **kwargs):
    # Local memory is per process: with several workers a write in one cannot invalidate the others' entries.
    if settings.CACHE_ENABLED and not settings.REDIS_URL:
        return [
            Warning(
                "The cache is local memory (REDIS_URL is unset) while caching is enabled.",
                hint="Set REDIS_URL when more than one process serves requests, or set CACHE_ENABLED=false.",
                id="runam.W001",
            )
        ]
    return []
