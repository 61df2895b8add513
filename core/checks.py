"""System checks for deployments that would break the cache's promise, or the money's, without failing loudly."""

from django.conf import settings
from django.core.checks import Error, Warning, register


@register(deploy=True)
def check_shared_cache(app_configs, **kwargs):
    # Local memory reaches the processes of one machine only (through the journal file): a second machine serving
    # the same database would never hear of the first one's writes.
    if settings.REDIS_URL or settings.REDIS_CLUSTER_NODES:
        return []
    if settings.DJANGO_ENV == "production":
        if settings.CACHE_ALLOW_LOCMEM_IN_PRODUCTION:
            return []
        return [
            Error(
                "Production without REDIS_URL: each process caches in its own memory.",
                hint="Set REDIS_URL, or CACHE_ALLOW_LOCMEM_IN_PRODUCTION=true if one machine serves everything.",
                id="runam.E002",
            )
        ]
    if settings.CACHE_ENABLED:
        return [
            Warning(
                "The cache is local memory (REDIS_URL is unset) while caching is enabled.",
                hint="Set REDIS_URL unless every process that reads or writes the database runs on this machine.",
                id="runam.W001",
            )
        ]
    return []


@register(deploy=True)
def check_production_database(app_configs, **kwargs):
    # SQLite has no row locks: two runners accepting one errand, or two releases of one escrow, are not serialized.
    if settings.DJANGO_ENV != "production" or settings.DJANGO_ALLOW_SQLITE_IN_PRODUCTION:
        return []
    return [
        Error(
            f"Production on SQLite (database {alias!r}).",
            hint="Set DATABASE_URL to PostgreSQL, or DJANGO_ALLOW_SQLITE_IN_PRODUCTION=true for a one-process demo.",
            id="runam.E001",
        )
        for alias, database in settings.DATABASES.items()
        if database["ENGINE"] == "django.db.backends.sqlite3"
    ]
