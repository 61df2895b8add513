"""Cache settings, read live so that override_settings (and the test fixtures) take effect at once."""

from django.conf import settings

GENERATION_TTL_DEFAULT = 7 * 24 * 3600
SINGLE_FLIGHT_WAIT_DEFAULT = 2.0
STATS_FLUSH_INTERVAL_DEFAULT = 1.0
OUTAGE_RETRY_INTERVAL_DEFAULT = 0.5
WRITE_PENDING_TTL_DEFAULT = 60.0
MAX_ENTRY_BYTES_DEFAULT = 1024 * 1024
MAX_ENTRY_DEPENDENCIES_DEFAULT = 2000
STATS_MAX_FAMILIES_DEFAULT = 500
HEADERS_REMEMBERED_DEFAULT = 10_000
OUTBOX_RELAY_INTERVAL_DEFAULT = 0.5
EXIT_FLUSH_TIMEOUT_DEFAULT = 2.0
# Seconds a generation or write clock that a read created lives until a stored entry claims it (and extends it to
# its own TTL): keys a read adds are gone within the entry's TTL plus this.
FILL_WINDOW = 60


def cache_enabled() -> bool:
    return bool(getattr(settings, "CACHE_ENABLED", True))


CLUSTER_FACTORY = "core.cache.cluster.ClusterConnectionFactory"


def on_cluster() -> bool:
    """The default cache is django-redis on a Redis Cluster (core/cache/cluster.py)."""
    return settings.CACHES["default"].get("OPTIONS", {}).get("CONNECTION_FACTORY") == CLUSTER_FACTORY


def key_prefix() -> str:
    """The head of every key. On a cluster it is a hash tag, `{runam}`: every key then hashes to one slot, which the
    scripts need (each reads several keys, and a script's keys must share a slot). keys.py percent-encodes `{` and
    `}` everywhere else, so no other tag can appear. One slot is one master: a failover moves the whole cache to its
    replica, but the load is not spread over the masters (docs/scale-out.md)."""
    prefix = configured_key_prefix()
    return f"{{{prefix}}}" if on_cluster() else prefix


def configured_key_prefix() -> str:
    """CACHE_KEY_PREFIX as set, without the hash tag's braces a cluster adds."""
    return getattr(settings, "CACHE_KEY_PREFIX", "runam")


def default_timeout() -> int:
    return int(getattr(settings, "CACHE_DEFAULT_TIMEOUT", 300))


def generation_ttl() -> int:
    """Seconds a generation or write clock lives: losing one only costs a miss, so it merely bounds memory."""
    return int(getattr(settings, "CACHE_GENERATION_TTL", GENERATION_TTL_DEFAULT))


def single_flight_wait() -> float:
    return float(getattr(settings, "CACHE_SINGLE_FLIGHT_WAIT", SINGLE_FLIGHT_WAIT_DEFAULT))


def stats_flush_interval() -> float:
    """Seconds between flushes of the per-process counters to Redis; 0 turns the background flush off."""
    return float(getattr(settings, "CACHE_STATS_FLUSH_INTERVAL", STATS_FLUSH_INTERVAL_DEFAULT))


def outage_retry_interval() -> float:
    """Seconds between attempts to reach a backend that failed; calls in between are misses without a round trip."""
    return float(getattr(settings, "CACHE_OUTAGE_RETRY_INTERVAL", OUTAGE_RETRY_INTERVAL_DEFAULT))


def write_pending_ttl() -> float:
    """Seconds a begun write blocks guarded fills of its models if it never settles (rollback, crash): longer than
    any transaction that writes tracked models should last."""
    return float(getattr(settings, "CACHE_WRITE_PENDING_TTL", WRITE_PENDING_TTL_DEFAULT))


def backend_name() -> str:
    backend = settings.CACHES["default"]["BACKEND"]
    return "redis" if backend.startswith("django_redis.") else "locmem"


def max_entry_bytes() -> int:
    return int(getattr(settings, "CACHE_MAX_ENTRY_BYTES", MAX_ENTRY_BYTES_DEFAULT))


def max_entry_dependencies() -> int:
    return int(getattr(settings, "CACHE_MAX_ENTRY_DEPENDENCIES", MAX_ENTRY_DEPENDENCIES_DEFAULT))


def stats_max_families() -> int:
    """Families one process counts separately; the counts of any further family go to `_other` (a family comes from
    a key's first segment, which a caller's key could make unbounded)."""
    return int(getattr(settings, "CACHE_STATS_MAX_FAMILIES", STATS_MAX_FAMILIES_DEFAULT))


def headers_remembered() -> int:
    """Entries whose generation names a process remembers, to read them in the same round trip as the entry."""
    return int(getattr(settings, "CACHE_HEADERS_REMEMBERED", HEADERS_REMEMBERED_DEFAULT))


def outbox_relay() -> bool:
    """Whether server processes run the outbox relay (core/cache/relay.py)."""
    return bool(getattr(settings, "CACHE_OUTBOX_RELAY", True))


def outbox_relay_interval() -> float:
    """Seconds a writer has to apply its own outbox row before the relay takes it, and between the relay's polls
    (SQLite) or retries (a backend that does not answer)."""
    return max(float(getattr(settings, "CACHE_OUTBOX_RELAY_INTERVAL", OUTBOX_RELAY_INTERVAL_DEFAULT)), 0.01)


def exit_flush_timeout() -> float:
    """Seconds an exiting process may wait for the backend to apply what it owes (epoch bump, settles, its outbox
    rows) and to take its stats."""
    return float(getattr(settings, "CACHE_EXIT_FLUSH_TIMEOUT", EXIT_FLUSH_TIMEOUT_DEFAULT))


def min_replicas() -> int:
    """Replicas that must hold an invalidation (WAIT) before it counts as done; 0: no WAIT (no replicas)."""
    return max(int(getattr(settings, "CACHE_REDIS_MIN_REPLICAS", 0)), 0)


def replica_wait_timeout() -> float:
    """Seconds an invalidation waits for min_replicas() replicas before it counts as owed (keep it below
    REDIS_SOCKET_TIMEOUT: the reply must arrive before the socket gives up)."""
    return max(float(getattr(settings, "CACHE_REDIS_WAIT_TIMEOUT", 0.05)), 0.001)
