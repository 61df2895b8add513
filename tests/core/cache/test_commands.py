"""`manage.py clear_cache` and `manage.py cache_stats`."""

import os
import re
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
import redis
from django.core.cache import caches
from django.core.management import CommandError, call_command

from core.cache import CacheManager
from core.cache.conf import key_prefix
from core.cache.store import get_store
from tests.fixtures.cache import locmem_caches


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def fill():
    for n in range(3):
        CacheManager.set(f"user:{n}:data", {"n": n})
    CacheManager.set("errand_list:OPEN", [1])


@pytest.mark.usefixtures("cache_backend")
@pytest.mark.parametrize("args", [(), ("--pattern", ""), ("--pattern", "  "), ("--pattern", f"{key_prefix()}:")])
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


def test_a_cache_that_is_down_has_no_families_and_counts_or_clears_nothing(redis_down):
    store = get_store()
    assert store.families() == []
    assert store.count("user:*") == 0
    assert store.delete_pattern("user:*:data", dry_run=True) == 0
    assert store.clear_all(dry_run=True) == 0
    assert store.clear_all() == 0


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


def manage(*args, settings, env=None):
    """`python manage.py ...` as its own process, as an operator runs it next to a running server."""
    environment = {
        **os.environ,
        "DJANGO_ENV": "test",
        "REDIS_URL": "",
        "CACHE_LOCMEM_JOURNAL": settings.CACHE_LOCMEM_JOURNAL,
        **(env or {}),
    }
    done = subprocess.run(
        [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_clear_cache_all_on_local_memory_says_it_reached_the_server_through_the_journal(settings):
    # given: this test process stands for the running server, with an entry in its own memory
    settings.CACHES = locmem_caches()
    CacheManager.set("user_profile:5", {"bio": "runner"})

    # when
    out = manage("clear_cache", "--all", settings=settings)

    # then
    assert "Removed 0 keys under the prefix from this command's own memory (locmem)." in out
    assert "In every other process of this machine (the running server too) everything they cached stops" in out
    assert settings.CACHE_LOCMEM_JOURNAL in out
    assert CacheManager.get("user_profile:5") is None


def test_clear_cache_family_pattern_on_local_memory_names_the_family_it_invalidated(settings):
    # given
    settings.CACHES = locmem_caches()
    CacheManager.set("user_profile:5", {"bio": "runner"})
    CacheManager.set("roles", ["runner"])

    # when
    out = manage("clear_cache", "--pattern", "user_profile:*", settings=settings)

    # then
    assert "family 'user_profile' stops being served (one generation bump)" in out
    assert CacheManager.get("user_profile:5") is None
    assert CacheManager.get("roles") == ["runner"]


def test_clear_cache_glob_on_local_memory_says_other_processes_are_not_scanned(settings):
    # given
    settings.CACHES = locmem_caches()
    CacheManager.set("banks_list:NG", ["Access Bank"])

    # when
    out = manage("clear_cache", "--pattern", "banks*", settings=settings)

    # then
    assert "drop only their whole responses (gql)" in out
    assert "'banks*' names no family" in out


def test_clear_cache_without_journal_says_the_server_keeps_its_entries(settings):
    # when
    out = manage("clear_cache", "--all", settings=settings, env={"CACHE_LOCMEM_JOURNAL": ""})

    # then
    assert "The journal is off" in out
    assert "restart them to clear their memory" in out


def test_a_pattern_matching_nothing_lists_the_families_in_the_cache(redis_cache, redis_url):
    # given: our entries, and another application's key in the same Redis
    CacheManager.set("user_profile:5", {"bio": "runner"})
    CacheManager.set("errand_list:OPEN", [1])
    redis.Redis.from_url(redis_url).set("otherapp:session:1", "x")

    # when
    out = run("clear_cache", "--pattern", "user:*")

    # then
    assert "Removed 0 keys matching 'user:*' (redis)." in out
    assert "No key matched 'user:*'. Families in the cache: errand_list, user_profile." in out
    assert CacheManager.get("user_profile:5") == {"bio": "runner"}  # a sweep of nothing drops nothing else


def test_a_pattern_matching_nothing_in_an_empty_cache_lists_the_project_families(redis_cache):
    # when
    out = run("clear_cache", "--pattern", "user:*", "--dry-run")

    # then
    assert "No key matched 'user:*'; the cache holds no entries." in out
    assert "banks_list, errand, errand_list, escrow, gql, queryset, roles, user, user_errands" in out


def test_cache_stats_on_local_memory_says_whose_counters_it_shows(settings):
    # when
    out = manage("cache_stats", settings=settings)

    # then
    assert "these are this command's own counters and keys, not the running server's" in out
    assert "/admin/core/cachedashboard/" in out


def test_cache_stats_shows_failed_calls_and_the_slowlog(restartable_redis):
    # given: a read that timed out (Redis held every script past the socket timeout) and a slow log with entries
    admin = restartable_redis.client()
    admin.config_set("slowlog-log-slower-than", 0)  # log every command
    CacheManager.set("roles", ["admin"])
    admin.client_pause(30_000, all=False)  # WRITE: scripts wait (a miss's ticket), CLIENT UNPAUSE does not
    assert CacheManager.get("banks") is None  # a miss whose ticket timed out
    admin.client_unpause()

    # when
    out = run("cache_stats")

    # then
    assert "failed calls: read timeouts 1  read errors 0  write timeouts 0  write errors 0" in out
    assert re.search(r"^slowlog: \d+ entries; newest:$", out, re.MULTILINE)
    assert re.search(r"^  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d +\d+\.\d ms  \S+", out, re.MULTILINE)
    assert CacheManager.get("roles") == ["admin"]  # the timeout wiped nothing
