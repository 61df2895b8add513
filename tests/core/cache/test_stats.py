"""Stats: counted in the process, shared through one Redis hash, never a round trip on a hit."""

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import redis

from core.cache import stats
from core.cache.keys import stats_key
from core.cache.store import get_store
from tests.fixtures.cache import locmem_caches, store_backend, until


def test_snapshot_per_family_and_overall(cache_backend):
    # given
    stats.record("user", "hit", 3)
    stats.record("user", "miss")
    stats.record("errand_list", "miss")
    stats.record("errand_list", "set")
    stats.record("errand_list", "invalidation", 2)

    # when
    snapshot = stats.snapshot()

    # then
    assert snapshot["families"] == {
        "errand_list": {"hits": 0, "misses": 1, "sets": 1, "invalidations": 2, "hit_rate": 0.0},
        "user": {"hits": 3, "misses": 1, "sets": 0, "invalidations": 0, "hit_rate": 0.75},
    }
    assert snapshot["overall"] == {"hits": 3, "misses": 2, "sets": 1, "invalidations": 2, "hit_rate": 0.6}
    assert snapshot["backend"]["backend"] == store_backend(cache_backend)


def test_a_family_without_lookups_has_a_hit_rate_of_zero(cache_backend):
    # given
    stats.record("roles", "set", 2)
    stats.record("roles", "invalidation", 3)

    # when
    snapshot = stats.snapshot()

    # then
    assert snapshot["families"]["roles"] == {"hits": 0, "misses": 0, "sets": 2, "invalidations": 3, "hit_rate": 0.0}
    assert snapshot["overall"]["hit_rate"] == 0.0


def test_unknown_event_is_refused():
    with pytest.raises(ValueError, match="unknown cache event"):
        stats.record("user", "hits")


def test_reset_zeroes_the_counters(cache_backend):
    stats.record("user", "hit")
    stats.snapshot()

    stats.reset()

    assert stats.snapshot()["overall"]["hits"] == 0


def test_recording_costs_no_round_trip_and_a_flush_costs_one(redis_cache, redis_round_trips):
    # given
    get_store().lookup("warm:up")
    redis_round_trips.reset()

    # when
    for _ in range(100):
        stats.record("user", "hit")
    recorded = redis_round_trips.count
    stats.record("errand_list", "miss")
    flushed = stats.flush()

    # then
    assert recorded == 0
    assert flushed and redis_round_trips.count == 1


def test_counts_from_several_processes_add_up(redis_cache, redis_url):
    # given: two processes, each with its own counters, sharing one Redis
    web, worker = stats.Stats(), stats.Stats()
    web.record("user", "hit", 2)
    worker.record("user", "hit", 5)
    worker.record("user", "miss")

    # when
    assert web.flush() and worker.flush()
    snapshot = stats.Stats().snapshot()

    # then
    assert snapshot["families"]["user"]["hits"] == 7
    assert snapshot["families"]["user"]["misses"] == 1
    assert redis.Redis.from_url(redis_url).hgetall(stats_key()) == {b"user|hit": b"7", b"user|miss": b"1"}


def test_unflushed_counts_of_this_process_are_in_its_snapshot(redis_cache):
    counter = stats.Stats()
    counter.record("user", "hit")

    assert counter.totals() == {"user|hit": 1}


def test_the_first_count_of_a_forked_process_is_its_own(redis_cache, redis_url):
    # given: counts of this process that a child forked now must not send again
    stats.record("roles", "hit", 5)

    # when: the child counts one hit and flushes
    pid = os.fork()
    if pid == 0:
        stats.record("user", "hit")
        os._exit(0 if stats.flush() else 1)
    _, status = os.waitpid(pid, 0)

    # then
    assert os.waitstatus_to_exitcode(status) == 0
    shared = redis.Redis.from_url(redis_url).hgetall(stats_key())
    assert shared == {b"user|hit": b"1"}


def test_the_background_flush_ends_when_its_interval_is_set_to_zero(redis_cache, settings):
    # given: a running background flush
    settings.CACHE_STATS_FLUSH_INTERVAL = 0.01
    stats.record("roles", "hit")
    assert _flush_threads()

    # when
    settings.CACHE_STATS_FLUSH_INTERVAL = 0

    # then: it stops by itself, and counts still add up on an explicit flush
    assert until(lambda: not _flush_threads())
    stats.record("roles", "hit")
    assert stats.snapshot()["families"]["roles"]["hits"] == 2


def _flush_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "cache-stats-flush"]


def test_locmem_counts_stay_in_the_process(settings):
    settings.CACHES = locmem_caches()
    stats.record("user", "hit")

    assert stats.flush() is False
    assert stats.snapshot()["overall"]["hits"] == 1


def test_background_flush(redis_cache, settings, redis_url):
    # given
    settings.CACHE_STATS_FLUSH_INTERVAL = 0.01
    counter = stats.Stats()
    flushed = threading.Event()
    original = counter.flush

    def flush_and_signal() -> bool:
        done = original()
        if not counter._pending:
            flushed.set()
        return done

    counter.flush = flush_and_signal

    # when
    counter.record("roles", "hit", 4)

    # then
    try:
        assert flushed.wait(timeout=10)
        assert redis.Redis.from_url(redis_url).hget(stats_key(), "roles|hit") == b"4"
    finally:
        counter.stop()
    assert not counter._flusher.is_alive()


EXITING_SCRIPT = """
import os
import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "runam.settings")
django.setup()

from core.cache import CacheManager

CacheManager.set("exit_check", 1)
CacheManager.get("exit_check")
"""


def test_counts_of_a_process_that_exits_at_once_are_flushed(redis_cache, redis_url, tmp_path, settings):
    # given: a script that counts a set and a hit and exits long before its first periodic flush
    script = tmp_path / "short_lived.py"
    script.write_text(EXITING_SCRIPT)
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(settings.BASE_DIR)),
        "DJANGO_ENV": "test",
        "REDIS_URL": redis_url,
        "CACHE_STATS_FLUSH_INTERVAL": "3600",
    }

    # when
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60)

    # then
    assert done.returncode == 0, done.stderr
    counted = stats.snapshot()["families"]["exit_check"]
    assert (counted["hits"], counted["sets"]) == (1, 1)
