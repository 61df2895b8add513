"""Every per-process structure of the cache stays within its setting, fed ten times its bound (the endpoint's own
structures: tests/core/graphql/test_bounds.py)."""

import os
import uuid

from django.core.cache.backends.locmem import LocMemCache

from core.cache import stats
from core.cache.keys import make_key, strip_prefix
from core.cache.manager import CacheManager
from core.cache.store import LocMemStore, get_store, reset_store
from tests.fixtures.cache import locmem_caches

BOUND = 20


def test_stats_count_at_most_their_families_and_the_rest_as_other(cache_backend, settings):
    # given: no background flush, so everything stays in this process until asked for
    settings.CACHE_STATS_FLUSH_INTERVAL = 0
    settings.CACHE_STATS_MAX_FAMILIES = BOUND

    # when: ten times as many families as the bound
    for n in range(10 * BOUND):
        stats.record(f"family{n}", "miss")

    # then: the first BOUND families are counted apart, the rest together, and no count is lost
    families = stats.snapshot()["families"]
    assert len(families) == BOUND + 1
    assert families[stats.OTHER_FAMILY]["misses"] == 9 * BOUND
    assert sum(row["misses"] for row in families.values()) == 10 * BOUND


def test_stats_keep_their_bound_across_flushes_that_fail(restartable_redis, settings):
    # given: counts kept in this process while Redis is down (every flush fails and keeps them)
    settings.CACHE_STATS_FLUSH_INTERVAL = 0
    settings.CACHE_STATS_MAX_FAMILIES = BOUND
    restartable_redis.stop()

    # when: each round brings as many new families as the bound, then a flush that fails
    for round_ in range(3):
        for n in range(BOUND):
            stats.record(f"family{round_}-{n}", "miss")
        assert stats.flush() is False

    # then: still the first BOUND families apart and the rest together
    restartable_redis.start()
    families = set(stats.snapshot()["families"]) - {stats.FAULTS_FAMILY}
    assert len(families) == BOUND + 1
    assert stats.OTHER_FAMILY in families


def test_single_flight_locks_and_entries_stay_within_the_local_memory_bound(settings):
    # given: local memory holding at most BOUND keys (locks, entries and generations share it)
    caches = locmem_caches()
    caches["default"]["OPTIONS"]["MAX_ENTRIES"] = BOUND
    caches["default"]["LOCATION"] = f"bounds-{uuid.uuid4()}"
    settings.CACHES = caches
    settings.CACHE_LOCMEM_JOURNAL = ""

    # when: ten times as many different keys read through (each takes a lock, stores an entry)
    for n in range(10 * BOUND):
        assert CacheManager.get_or_set(f"report:{n}", lambda n=n: {"n": n}) == {"n": n}

    # then
    assert get_store().info()["keys"] <= BOUND


def test_owed_settles_keep_only_marks_that_have_not_expired(restartable_redis, settings):
    # given: writes begun while Redis answers, whose settles fail in an outage
    store = get_store()
    writes = [store.begin_write(families=["errand_list"], clocks=["errands.errand"]) for _ in range(10 * BOUND)]
    restartable_redis.stop()

    # when: the marks expire at once, so nothing is left for a settle to lift
    settings.CACHE_WRITE_PENDING_TTL = 0
    for write in writes:
        store.settle_write(write, families=["errand_list"], clocks=["errands.errand"])

    # then: at most the latest is held (it expires before the next is added); with the default TTL, every one
    assert len(store._owed_settles) <= 1
    settings.CACHE_WRITE_PENDING_TTL = 60
    for write in writes:
        store.settle_write(write, families=["errand_list"], clocks=["errands.errand"])
    assert len(store._owed_settles) == 10 * BOUND


def test_the_header_names_a_redis_process_remembers_stay_within_their_setting(redis_cache, settings):
    # given
    settings.CACHE_HEADERS_REMEMBERED = BOUND
    reset_store()

    # when: ten times as many entries stored and read
    for n in range(10 * BOUND):
        assert CacheManager.get_or_set(f"report:{n}", lambda n=n: n) == n
        assert CacheManager.get(f"report:{n}") == n

    # then
    assert len(get_store()._headers) == BOUND


def test_the_journal_and_what_a_process_reads_of_it_stay_within_the_size_setting(settings, tmp_path):
    # given: a journal of at most 1,000 bytes, one process writing and one reading along
    settings.CACHE_LOCMEM_JOURNAL = str(tmp_path / "cache.journal")
    settings.CACHE_LOCMEM_JOURNAL_MAX_BYTES = 1000
    writer, reader = (LocMemStore(LocMemCache(f"{name}-{uuid.uuid4()}", {})) for name in ("writer", "reader"))
    key = make_key("report:{{n}}", {"n": 1})

    # when: ten times that many bytes of invalidations, the reader storing and reading between them
    written = 0
    while written < 10 * 1000:
        found = reader.lookup(key)
        assert reader.store(found.ticket, "value", 60)
        writer.bump(families=[strip_prefix(key)])
        assert not reader.lookup(key).hit  # every invalidation reaches the reader, across rotations too
        written += 100

    # then
    assert os.path.getsize(settings.CACHE_LOCMEM_JOURNAL) <= 1000
    assert os.path.getsize(settings.CACHE_LOCMEM_JOURNAL + ".old") <= 1000
