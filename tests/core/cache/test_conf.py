"""The cache's settings as a project sees them: what it gets when it leaves one out (the README's configuration table
is the promise), how values are read, and how values out of range are taken."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.cache import conf

README = Path(__file__).resolve().parents[3] / "README.md"

# The settings the README documents with one default, and the function of core/cache/conf.py that reads each.
READERS = {
    "CACHE_ENABLED": conf.cache_enabled,
    "CACHE_DEFAULT_TIMEOUT": conf.default_timeout,
    "CACHE_KEY_PREFIX": conf.key_prefix,
    "CACHE_PARTITION_BY": conf.partition_by,
    "CACHE_REDIS_MIN_REPLICAS": conf.min_replicas,
    "CACHE_REDIS_WAIT_TIMEOUT": conf.replica_wait_timeout,
    "CACHE_GENERATION_TTL": conf.generation_ttl,
    "CACHE_SINGLE_FLIGHT_WAIT": conf.single_flight_wait,
    "CACHE_STATS_FLUSH_INTERVAL": conf.stats_flush_interval,
    "CACHE_STATS_MAX_FAMILIES": conf.stats_max_families,
    "CACHE_OUTAGE_RETRY_INTERVAL": conf.outage_retry_interval,
    "CACHE_WRITE_PENDING_TTL": conf.write_pending_ttl,
    "CACHE_OUTBOX_RELAY": conf.outbox_relay,
    "CACHE_OUTBOX_RELAY_INTERVAL": conf.outbox_relay_interval,
    "CACHE_EXIT_FLUSH_TIMEOUT": conf.exit_flush_timeout,
    "CACHE_MAX_ENTRY_BYTES": conf.max_entry_bytes,
    "CACHE_MAX_ENTRY_DEPENDENCIES": conf.max_entry_dependencies,
}
REDIS = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}}
LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def documented() -> dict[str, str]:
    """`| `CACHE_X` | `default` | ...` rows of the README's configuration table."""
    return dict(re.findall(r"^\| `(CACHE_[A-Z_]+)` \| `([^`]*)`", README.read_text(), re.MULTILINE))


def as_documented(text: str, value: object) -> object:
    if isinstance(value, bool):
        return {"true": True, "false": False}[text]
    return type(value)(text) if isinstance(value, int | float) else text


def test_every_setting_read_here_is_in_the_readme_with_its_default():
    table = documented()
    assert set(READERS) <= set(table), sorted(set(READERS) - set(table))


@pytest.mark.parametrize("name", sorted(READERS))
def test_a_setting_left_out_takes_the_readmes_default(settings, name):
    delattr(settings, name)
    value = READERS[name]()
    assert value == as_documented(documented()[name], value)
    assert type(value) is type(as_documented(documented()[name], value))


@pytest.mark.parametrize(
    ("name", "given", "read"),
    [
        ("CACHE_ENABLED", 0, False),
        ("CACHE_ENABLED", 1, True),
        ("CACHE_DEFAULT_TIMEOUT", "30", 30),
        ("CACHE_KEY_PREFIX", "shop", "shop"),
        ("CACHE_GENERATION_TTL", "90", 90),
        ("CACHE_SINGLE_FLIGHT_WAIT", "0.25", 0.25),
        ("CACHE_STATS_FLUSH_INTERVAL", "0", 0.0),
        ("CACHE_STATS_MAX_FAMILIES", "7", 7),
        ("CACHE_OUTAGE_RETRY_INTERVAL", "3", 3.0),
        ("CACHE_WRITE_PENDING_TTL", "5", 5.0),
        ("CACHE_OUTBOX_RELAY", 0, False),
        ("CACHE_OUTBOX_RELAY_INTERVAL", "2", 2.0),
        ("CACHE_OUTBOX_RELAY_INTERVAL", 0, 0.01),
        ("CACHE_OUTBOX_RELAY_INTERVAL", -1, 0.01),
        ("CACHE_EXIT_FLUSH_TIMEOUT", "0.5", 0.5),
        ("CACHE_MAX_ENTRY_BYTES", "100", 100),
        ("CACHE_MAX_ENTRY_DEPENDENCIES", "3", 3),
        ("CACHE_HEADERS_REMEMBERED", "4", 4),
        ("CACHE_REDIS_MIN_REPLICAS", "2", 2),
        ("CACHE_REDIS_MIN_REPLICAS", -1, 0),
        ("CACHE_REDIS_WAIT_TIMEOUT", "0.2", 0.2),
        ("CACHE_REDIS_WAIT_TIMEOUT", 0, 0.001),
        ("CACHE_PARTITION_BY", "key", "key"),
        ("CACHE_PARTITION_BY", "process", "process"),
        ("CACHE_PARTITION_BY", "", "thread"),
        ("CACHE_PARTITION_BY", "slot", "thread"),
    ],
)
def test_a_setting_is_read_as_its_type_and_kept_in_range(settings, name, given, read):
    setattr(settings, name, given)
    reader = READERS.get(name, conf.headers_remembered)
    assert reader() == read
    assert type(reader()) is type(read)


def test_headers_remembered_has_its_default(settings):
    del settings.CACHE_HEADERS_REMEMBERED
    assert conf.headers_remembered() == conf.HEADERS_REMEMBERED_DEFAULT == 10_000


@pytest.mark.parametrize(
    ("caches", "options", "given", "count"),
    [
        (LOCMEM, {}, 5, 1),
        (REDIS, {}, None, 1),
        (REDIS, {}, 0, 1),
        (REDIS, {}, 5, 5),
        (REDIS, {}, -3, 1),
        (REDIS, {"CONNECTION_FACTORY": conf.CLUSTER_FACTORY}, None, 12),
        (REDIS, {"CONNECTION_FACTORY": conf.CLUSTER_FACTORY}, 0, 12),
        (REDIS, {"CONNECTION_FACTORY": conf.CLUSTER_FACTORY}, 3, 3),
        (REDIS, {"CONNECTION_FACTORY": "django_redis.pool.ConnectionFactory"}, 0, 1),
    ],
)
def test_partitions_are_one_off_a_cluster_and_twelve_on_one_unless_set(settings, caches, options, given, count):
    settings.CACHES = {"default": {**caches["default"], "OPTIONS": options}}
    if given is None:
        del settings.CACHE_PARTITIONS
    else:
        settings.CACHE_PARTITIONS = given
    assert conf.partitions() == count
    assert conf.on_cluster() is (options.get("CONNECTION_FACTORY") == conf.CLUSTER_FACTORY)


def test_the_backend_is_named_by_its_module(settings):
    settings.CACHES = REDIS
    assert conf.backend_name() == "redis"
    settings.CACHES = LOCMEM
    assert conf.backend_name() == "locmem"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache"}}
    assert conf.backend_name() == "locmem"  # any backend but django-redis is driven as a plain Django cache
