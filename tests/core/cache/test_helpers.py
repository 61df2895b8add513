"""Helpers of the RunAm caching docs: user data, querysets, and the two import paths."""

import datetime
import uuid
from decimal import Decimal

import pytest
import redis
from django.test import override_settings

import core.cache
import core.cache_utils
from accounts.models import Bank, Role, UserProfile
from core.cache import (
    CacheManager,
    cache_queryset,
    cache_user_data,
    get_cache_key,
    get_cached_user_data,
    invalidate_user_cache,
)
from core.cache.conf import key_prefix
from core.cache.store import get_store
from tests.fixtures.cache import redis_caches

pytestmark = pytest.mark.usefixtures("cache_backend")

PUBLIC = {
    "CacheManager",
    "cache_queryset",
    "cache_result",
    "cache_user_data",
    "cacheable",
    "get_cache_key",
    "get_cached_user_data",
    "invalidate_cache",
    "invalidate_user_cache",
    "make_key",
    "make_pattern",
    "warmer",
}
UTILS = {
    "CacheManager",
    "cache_queryset",
    "cache_result",
    "cache_user_data",
    "get_cache_key",
    "get_cached_user_data",
    "invalidate_user_cache",
}


def test_every_public_name_is_importable_from_both_paths():
    assert set(core.cache.__all__) == PUBLIC
    assert all(callable(getattr(core.cache, name)) for name in PUBLIC)
    assert set(core.cache_utils.__all__) == UTILS
    assert all(getattr(core.cache_utils, name) is getattr(core.cache, name) for name in UTILS)
    assert not hasattr(core.cache, "no_such_name")  # an unknown name is an AttributeError, as for any module


def test_get_cache_key_joins_escaped_parts():
    assert get_cache_key("user", 42, "data") == f"{key_prefix()}:user:42:data"
    assert get_cache_key("user", "4:*") == f"{key_prefix()}:user:4%3A%2A"


def test_user_data_round_trips_rich_types():
    # given
    data = {
        "balance": Decimal("1500.25"),
        "joined": datetime.datetime(2024, 5, 1, 9, 30, tzinfo=datetime.UTC),
        "birthday": datetime.date(1990, 1, 2),
        "device": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    }

    # when
    stored = cache_user_data(7, data, timeout=3600)

    # then
    assert stored is True
    assert get_cached_user_data(7) == data
    assert get_cached_user_data(8, default={}) == {}


def test_invalidate_user_cache_drops_every_family_of_that_user_only():
    # given
    cache_user_data(7, {"theme": "dark"})
    cache_user_data(70, {"theme": "light"})
    for family in ("user_profile:7", "user_errands:7", "user_escrows:7"):
        CacheManager.set(family, family)

    # when
    invalidate_user_cache(7)

    # then
    assert get_cached_user_data(7) is None
    assert all(CacheManager.get(f) is None for f in ("user_profile:7", "user_errands:7", "user_escrows:7"))
    assert get_cached_user_data(70) == {"theme": "light"}


def test_invalidate_user_cache_counts_one_invalidation_per_family():
    # when
    invalidate_user_cache(7)

    # then
    families = CacheManager.get_stats()["families"]
    assert {name: row["invalidations"] for name, row in families.items()} == {
        "user": 1,
        "user_profile": 1,
        "user_errands": 1,
        "user_escrows": 1,
    }


@pytest.fixture
def banks(transactional_db):
    # Real commits: a write inside the test's own transaction would (rightly) turn the cache off for the test.
    return [
        Bank.objects.create(name="Access Bank", code="044", country="NG"),
        Bank.objects.create(name="GTBank", code="058", country="NG"),
        Bank.objects.create(name="Ecobank", code="130", country="GH"),
    ]


def test_cache_queryset_returns_rebuilt_instances_without_querying(banks, django_assert_num_queries):
    # given
    qs = Bank.objects.filter(country="NG").order_by("code")
    first = cache_queryset(qs, timeout=300)

    # when
    with django_assert_num_queries(0):
        again = cache_queryset(Bank.objects.filter(country="NG").order_by("code"))

    # then
    assert isinstance(again, list)
    assert [(b.pk, b.name, b.code, b.country) for b in again] == [(b.pk, b.name, b.code, b.country) for b in first]
    assert all(isinstance(b, Bank) and not b._state.adding and b._state.db == "default" for b in again)


def test_cache_queryset_counts_under_the_queryset_family(banks):
    # when
    cache_queryset(Bank.objects.filter(country="NG"))
    cache_queryset(Bank.objects.filter(country="NG"))

    # then
    row = CacheManager.get_stats()["families"]["queryset"]
    assert (row["misses"], row["sets"], row["hits"]) == (1, 1, 1)


@pytest.mark.parametrize(("timeout", "queries"), [(0, 1), (1, 0)])
def test_cache_queryset_stores_for_any_positive_timeout(banks, django_assert_num_queries, timeout, queries):
    # given
    cache_queryset(Bank.objects.filter(country="NG"), timeout=timeout)

    # when / then
    with django_assert_num_queries(queries):
        assert len(cache_queryset(Bank.objects.filter(country="NG"), timeout=timeout)) == 2


def test_cache_queryset_entry_lives_for_its_timeout(banks, redis_url, settings):
    # given: the Redis backend, and no entry yet
    settings.CACHES = redis_caches(redis_url)
    client = redis.Redis.from_url(redis_url)

    # when
    cache_queryset(Bank.objects.filter(country="NG"), timeout=7)

    # then
    [key] = client.keys(f"{key_prefix()}:queryset:*")
    assert 0 < client.pttl(key) <= 7000


@override_settings(CACHE_ENABLED=False)
def test_cache_queryset_with_the_cache_off_just_evaluates(banks, django_assert_num_queries):
    with django_assert_num_queries(2):
        assert len(cache_queryset(Bank.objects.filter(country="NG"))) == 2
        assert len(cache_queryset(Bank.objects.filter(country="NG"))) == 2


def test_cache_queryset_keys_differ_by_query(banks, django_assert_num_queries):
    cache_queryset(Bank.objects.filter(country="NG"))

    with django_assert_num_queries(1):
        gh = cache_queryset(Bank.objects.filter(country="GH"))

    assert [b.code for b in gh] == ["130"]


def test_cache_queryset_keeps_values_rows_and_deferred_fields(banks, django_assert_num_queries):
    cache_queryset(Bank.objects.values_list("code", "country").order_by("code"))
    cache_queryset(Bank.objects.only("code").order_by("code"))

    with django_assert_num_queries(0):
        rows = cache_queryset(Bank.objects.values_list("code", "country").order_by("code"))
        only = cache_queryset(Bank.objects.only("code").order_by("code"))

    assert rows == [("044", "NG"), ("058", "NG"), ("130", "GH")]
    assert [b.code for b in only] == ["044", "058", "130"]
    assert only[0].get_deferred_fields() == {"name", "country"}


def test_cache_queryset_family_bump_recomputes(banks, django_assert_num_queries):
    cache_queryset(Bank.objects.all())

    get_store().bump(families=["queryset:accounts.bank"])

    with django_assert_num_queries(1):
        cache_queryset(Bank.objects.all())


def test_cache_queryset_sees_a_new_row_after_a_write(banks):
    cache_queryset(Bank.objects.filter(country="NG"))

    Bank.objects.create(name="Zenith", code="057", country="NG")

    assert len(cache_queryset(Bank.objects.filter(country="NG"))) == 3


def test_cache_queryset_over_a_join_is_refreshed_by_a_write_to_the_joined_model(transactional_db, django_user_model):
    # given
    runner = Role.objects.create(name="runner")
    user = django_user_model.objects.create_user(username="ada", password="x")
    UserProfile.objects.update_or_create(user=user, defaults={"role": runner})
    by_role = UserProfile.objects.filter(role__name="runner")
    assert len(cache_queryset(by_role)) == 1

    # when
    runner.name = "customer"
    runner.save()

    # then
    assert cache_queryset(UserProfile.objects.filter(role__name="runner")) == []


def test_cache_queryset_over_a_join_is_not_filled_while_a_write_to_the_joined_model_is_pending(
    transactional_db, django_user_model, django_assert_num_queries
):
    # given: a write to the joined model (Role) in flight (begun, its commit not settled yet): its pending mark holds
    # off guarded fills of every query that joins roles
    runner = Role.objects.create(name="runner")
    user = django_user_model.objects.create_user(username="ada", password="x")
    UserProfile.objects.update_or_create(user=user, defaults={"role": runner})
    get_store().begin_write(families=["roles"], clocks=["accounts.role"])

    # when
    cache_queryset(UserProfile.objects.filter(role__name="runner"))

    # then: nothing was stored, so the same query runs again
    with django_assert_num_queries(1):
        assert len(cache_queryset(UserProfile.objects.filter(role__name="runner"))) == 1


def test_cache_queryset_of_an_empty_in_is_just_evaluated(banks):
    assert cache_queryset(Bank.objects.filter(pk__in=[])) == []
