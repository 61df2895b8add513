"""System checks for deployments that would break the cache's promise without failing loudly."""

from django.conf import settings
from django.core.checks import Warning, register


@register(deploy=True)
def check_shared_cache(app_configs, **kwargs):
    # Local memory reaches the processes of one machine only (through the journal file): a second machine serving
    # the same database would never hear of the first one's writes.
    if settings.CACHE_ENABLED and not settings.REDIS_URL:
        return [
            Warning(
                "The cache is local memory (REDIS_URL is unset) while caching is enabled.",
                hint="Set REDIS_URL unless every process that reads or writes the database runs on this machine.",
                id="runam.W001",
            )
        ]
    return []
