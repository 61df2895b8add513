"""`manage.py clear_cache` and `manage.py cache_stats`."""

import re
from io import StringIO

import pytest
from django.core.cache import caches
from django.core.management import CommandError, call_command

from core.cache import CacheManager


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def fill():
    for n in range(3):
        CacheManager.set(f"user:{n}:data", {"n": n})
    CacheManager.set("errand_list:OPEN", [1])


@pytest.mark.usefixtures("cache_backend")
@pytest.mark.parametrize("args", [(), ("--pattern", ""), ("--pattern", "  "), ("--pattern", "runam:")])
def test_clear_cache_refuses_a_missing_or_empty_pattern(args):
    fill()

    with pytest.raises(CommandError, match=r"usage: manage\.py clear_cache"):
        run("clear_cache", *args)
    assert CacheManager.get("user:1:data") == {"n": 1}


@pytest.mark.usefixtures("cache_backend")
def test_clear_cache_refuses_all_and_pattern_together():
    with pytest.raises(CommandError):
        run("clear_cache", "--all", "--pattern", "user:*")


@pytest.mark.usefixtures("cache_backend")
def test_clear_cache_pattern_dry_run_counts_and_keeps():
    fill()

    out = run("clear_cache", "--pattern", "user:*", "--dry-run")

    assert "Would remove 3 keys matching 'user:*'" in out
    assert CacheManager.get("user:1:data") == {"n": 1}


@pytest.mark.usefixtures("cache_backend")
def test_clear_cache_pattern_removes_only_matches():
    fill()

    out = run("clear_cache", "--pattern", "user:*")

    assert "Removed 3 keys matching 'user:*'" in out
    assert CacheManager.get("user:1:data") is None
    assert CacheManager.get("errand_list:OPEN") == [1]


@pytest.mark.usefixtures("cache_backend")
def test_clear_cache_all_keeps_other_applications_keys():
    # given
    fill()
    caches["default"].set("otherapp:session:1", "theirs", 60)

    # when
    out = run("clear_cache", "--all")

    # then
    assert out.startswith("Removed ")
    assert CacheManager.get("errand_list:OPEN") is None
    assert caches["default"].get("otherapp:session:1") == "theirs"


def test_clear_cache_with_redis_down_exits_non_zero(redis_down):
    with pytest.raises(CommandError, match="unreachable"):
        run("clear_cache", "--all")
    with pytest.raises(CommandError, match="unreachable"):
        run("clear_cache", "--pattern", "user:*")


@pytest.mark.usefixtures("cache_backend")
def test_cache_stats_prints_a_table_per_family_and_overall():
    # given
    CacheManager.set("errand_list:OPEN", [1])
    CacheManager.get("errand_list:OPEN")
    CacheManager.get("errand_list:DONE")
    CacheManager.get("roles")

    # when
    out = run("cache_stats")

    # then
    lines = out.splitlines()
    assert lines[0].split() == ["family", "hits", "misses", "hit", "rate", "sets", "invalidations"]
    row = next(line.split() for line in lines if line.startswith("errand_list"))
    assert row == ["errand_list", "1", "1", "50.0%", "1", "0"]
    assert any(line.startswith("overall") for line in lines)
    assert "backend:" in out and "keys:" in out and "memory:" in out


@pytest.fixture
def redis_down(restartable_redis):
    """The default cache is a redis-server of this test, stopped: an outage."""
    restartable_redis.stop()
    return restartable_redis


def test_cache_stats_shows_failed_calls_and_the_slowlog(restartable_redis):
    # given: a read that timed out (Redis held every script past the socket timeout) and a slow log with entries
    admin = restartable_redis.client()
    admin.config_set("slowlog-log-slower-than", 0)  # log every command
    CacheManager.set("roles", ["admin"])
    admin.client_pause(30_000, all=False)  # WRITE: scripts wait, CLIENT UNPAUSE does not
    assert CacheManager.get("roles") is None  # a miss
    admin.client_unpause()

    # when
    out = run("cache_stats")

    # then
    assert "failed calls: read timeouts 1  read errors 0  write timeouts 0  write errors 0" in out
    assert re.search(r"^slowlog: \d+ entries; newest:$", out, re.MULTILINE)
    assert re.search(r"^  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d +\d+\.\d ms  \S+", out, re.MULTILINE)
    assert CacheManager.get("roles") == ["admin"]  # the timeout wiped nothing
