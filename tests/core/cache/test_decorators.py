"""@cache_result, @cacheable, @invalidate_cache on both backends, sync and async."""

import asyncio
import logging
from types import SimpleNamespace

import pytest
import redis
from django.db import transaction
from django.test import override_settings

from accounts.models import UserProfile
from core.cache import CacheManager, cache_result, cacheable, invalidate_cache
from core.cache.conf import key_prefix
from core.cache.invalidation import mark_dirty
from core.cache.store import get_store
from core.factories import ErrandFactory, UserFactory
from errands.models import Errand
from tests.fixtures.cache import redis_caches

pytestmark = pytest.mark.usefixtures("cache_backend")


class Counter:
    """A function under cache that counts how often it really ran."""

    def __init__(self, result=None, *, fail_first=False):
        self.calls, self.result, self.fail_first = 0, result, fail_first

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.fail_first and self.calls == 1:
            raise RuntimeError("transient")
        return self.result if self.result is not None else [args, kwargs]


def test_cache_result_bare_caches_per_argument():
    # given
    counter = Counter()

    @cache_result
    def errand_titles(status, page=1):
        return counter(status, page)

    # when
    first = errand_titles("OPEN")
    again = errand_titles("OPEN", page=1)
    other = errand_titles("OPEN", 2)

    # then
    assert first == again == [("OPEN", 1), {}]
    assert other == [("OPEN", 2), {}]
    assert counter.calls == 2


def test_an_argument_passed_by_keyword_is_part_of_the_key():
    # given
    counter = Counter()

    @cache_result
    def errand_titles(status, page=1):
        return counter(status, page)

    errand_titles("OPEN", page=1)

    # when
    second_page = errand_titles("OPEN", page=2)

    # then: page 2 is computed, not served page 1's entry, and is keyed the same as when passed by position
    assert second_page == [("OPEN", 2), {}]
    assert counter.calls == 2
    assert errand_titles.key("OPEN", page=2) == errand_titles.key("OPEN", 2)


def test_cache_result_with_key_prefix_uses_the_seed_key_and_invalidates():
    # given
    counter = Counter({"bio": "runner"})

    @cache_result(timeout=600, key_prefix="user_profile")
    def get_user_profile(user_id):
        return counter()

    get_user_profile(5)
    get_user_profile(5)

    # when
    get_user_profile.invalidate(5)
    get_user_profile(5)

    # then
    assert get_user_profile.key(5) == f"{key_prefix()}:user_profile:5"
    assert counter.calls == 2


@pytest.mark.parametrize(
    "drop",
    [
        lambda fn, *args, **kwargs: fn.invalidate(*args, **kwargs),
        lambda fn, *args, **kwargs: asyncio.run(fn.ainvalidate(*args, **kwargs)),
    ],
    ids=["invalidate", "ainvalidate"],
)
def test_invalidate_drops_the_entry_of_the_keyword_arguments_it_is_given(drop):
    # given
    counter = Counter(["errand"])

    @cacheable(key="user_errands:{{user_id}}:{{status}}")
    def my_errands(user_id, status="OPEN"):
        return counter()

    my_errands(3, status="DONE")

    # when
    drop(my_errands, 3, status="DONE")

    # then
    my_errands(3, status="DONE")
    assert counter.calls == 2


@pytest.mark.django_db(transaction=True)
def test_a_model_instance_argument_is_keyed_by_its_pk_so_a_write_to_its_row_drops_the_entry():
    # given: a value cached per user under a seed family (CACHE_INVALIDATION: a profile write bumps
    # user_profile:<user id>)
    user = UserFactory(profile__country="NG")

    @cache_result(key_prefix="user_profile")
    def country(user):
        return UserProfile.objects.get(user=user).country

    assert country(user) == "NG"

    # when
    user.profile.country = "GH"
    user.profile.save()

    # then
    assert country(user) == "GH"
    assert country.key(user) == f"{key_prefix()}:user_profile:{user.pk}"


def test_family_invalidation_reaches_decorated_entries():
    counter = Counter(["Access", "GTB"])

    @cache_result(key_prefix="banks_list")
    def banks(country):
        return counter()

    banks("NG")
    CacheManager.invalidate("banks_list:*")
    banks("NG")

    assert counter.calls == 2


def test_cacheable_fills_dotted_names_and_applies_defaults():
    # given
    counter = Counter([1, 2])
    viewer = SimpleNamespace(id=42, username="ada")

    @cacheable(key="user_errands:{{user.id}}:{{status}}", ttl=300)
    def my_errands(user, status="OPEN"):
        return counter()

    # when
    my_errands(viewer)
    my_errands(viewer, status="OPEN")

    # then
    assert counter.calls == 1
    assert my_errands.key(viewer) == f"{key_prefix()}:user_errands:42:OPEN"
    assert my_errands.key(viewer, "DONE") == f"{key_prefix()}:user_errands:42:DONE"


def test_hash_params_ignore_dict_order():
    counter = Counter(["errand"])

    @cacheable(key="errand_list:{{filters}}", hash_params=["filters"])
    def errand_list(filters):
        return counter()

    errand_list({"status": "OPEN", "max_budget": 5000})
    errand_list({"max_budget": 5000, "status": "OPEN"})
    errand_list({"max_budget": 5001, "status": "OPEN"})

    assert counter.calls == 2
    assert errand_list.key({"a": 1}).startswith(f"{key_prefix()}:errand_list:~")


def test_a_cached_none_is_served_and_exceptions_are_not_cached():
    # given
    nothing = Counter()
    nothing.result = None
    flaky = Counter("ok", fail_first=True)

    @cacheable(key="escrow:{{escrow_id}}")
    def escrow(escrow_id):
        nothing()
        return None

    @cacheable(key="errand:{{errand_id}}")
    def errand(errand_id):
        return flaky()

    # when / then
    assert escrow(1) is None
    assert escrow(1) is None
    assert nothing.calls == 1
    with pytest.raises(RuntimeError):
        errand(3)
    assert errand(3) == "ok"
    assert errand(3) == "ok"
    assert flaky.calls == 2


def test_template_naming_an_unknown_argument_fails_at_decoration():
    with pytest.raises(TypeError, match="user_id"):

        @cacheable(key="user:{{user_id}}")
        def profile(uid):
            return uid


def test_unkeyable_argument_calls_through_uncached(caplog):
    counter = Counter("v")

    @cache_result
    def describe(thing):
        return counter()

    with caplog.at_level(logging.WARNING, logger="core.cache"):
        describe(object())
        describe(object())

    assert counter.calls == 2
    assert caplog.text.count("cache key not built") <= 1


def test_debug_logs_the_key_story(caplog):
    @cacheable(key="banks_list:{{country}}", ttl=86400, debug=True)
    def banks(country):
        return ["044"]

    with caplog.at_level(logging.INFO, logger="core.cache"):
        banks("NG")
        banks("NG")

    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("cache debug")]
    assert any("function" in line and "banks" in line for line in lines)
    assert "cache debug: key template banks_list:{{country}}" in lines
    assert f"cache debug: resolved key {key_prefix()}:banks_list:NG" in lines
    assert "cache debug: context {'country': 'NG'}" in lines
    assert f"cache debug: MISS {key_prefix()}:banks_list:NG" in lines
    assert f"cache debug: stored {key_prefix()}:banks_list:NG (TTL 86400s)" in lines
    assert f"cache debug: HIT {key_prefix()}:banks_list:NG" in lines


class Opaque:
    """An object whose text would hold its address: no stable key."""


@pytest.mark.parametrize(
    "argument",
    [{"a": Opaque()}, {Opaque(): "a"}, [1, Opaque()], ({"nested": [Opaque()]},)],
    ids=["dict value", "dict key", "list item", "nested"],
)
def test_a_default_key_over_an_object_without_a_stable_key_calls_uncached(argument, caplog):
    # given
    counter = Counter("x")

    @cacheable
    def lookup(value):
        return counter()

    # when
    with caplog.at_level(logging.WARNING, logger="core.cache"):
        lookup(argument)
        lookup(argument)

    # then
    assert counter.calls == 2
    assert "has no stable key" in caplog.text


def test_no_debug_lines_without_debug(caplog):
    @cacheable(key="roles")
    def roles():
        return []

    with caplog.at_level(logging.DEBUG, logger="core.cache"):
        roles()

    assert "cache debug" not in caplog.text


def test_cache_result_logs_no_debug_lines_and_keys_a_local_function_by_its_name(caplog):
    @cache_result
    def double(value):
        return value * 2

    with caplog.at_level(logging.DEBUG, logger="core.cache"):
        double(5)

    assert "cache debug" not in caplog.text
    assert double.key(5) == (
        f"{key_prefix()}:tests.core.cache.test_decorators."
        "test_cache_result_logs_no_debug_lines_and_keys_a_local_function_by_its_name.double:5"
    )


def test_cache_result_entry_lives_for_its_timeout(redis_url, settings):
    # given: the Redis backend
    settings.CACHES = redis_caches(redis_url)

    @cache_result(timeout=7)
    def double(value):
        return value * 2

    # when
    double(5)

    # then
    assert 0 < redis.Redis.from_url(redis_url).pttl(double.key(5)) <= 7000


@override_settings(CACHE_ENABLED=False)
def test_disabled_cache_calls_every_time_and_stores_nothing():
    counter = Counter(["x"])

    @cacheable(key="roles")
    def roles():
        return counter()

    roles()
    roles()
    assert counter.calls == 2
    with override_settings(CACHE_ENABLED=True):
        assert CacheManager.get("roles", default="miss") == "miss"


# --- async ----------------------------------------------------------------------------------------------------


def test_async_cacheable_caches_none_and_not_exceptions():
    # given
    counter = Counter()
    flaky = Counter("ok", fail_first=True)

    @cacheable(key="user_escrows:{{user_id}}")
    async def my_escrows(user_id):
        counter()
        return None

    @cache_result
    async def errand(errand_id):
        return flaky()

    async def scenario():
        assert await my_escrows(7) is None
        assert await my_escrows(7) is None
        with pytest.raises(RuntimeError):
            await errand(1)
        assert await errand(1) == "ok"
        assert await errand(1) == "ok"

    # when
    asyncio.run(scenario())

    # then
    assert counter.calls == 1
    assert flaky.calls == 2
    assert asyncio.iscoroutinefunction(my_escrows)


def test_concurrent_async_misses_compute_once():
    # given: a coroutine that yields to the loop while it computes, so that every caller has missed before any stores
    counter = Counter({"open": 3})

    @cacheable(key="errand_list:{{n}}")
    async def board(n):
        await asyncio.sleep(0)
        return counter()

    async def scenario():
        return await asyncio.gather(*(board(1) for _ in range(10)))

    # when
    answers = asyncio.run(scenario())

    # then: one computation, every caller answered with it
    assert answers == [{"open": 3}] * 10
    assert counter.calls == 1


def test_async_invalidate_and_ainvalidate():
    counter = Counter({"id": 9})

    @cache_result(key_prefix="errand")
    async def errand(errand_id):
        return counter()

    async def scenario():
        await errand(9)
        errand.invalidate(9)
        await errand(9)
        await errand.ainvalidate(9)
        await errand(9)
        await errand(9)

    asyncio.run(scenario())

    assert counter.calls == 3


@pytest.mark.parametrize(("ttl", "stored"), [(0, False), (1, True), (60, True)])
def test_async_cacheable_stores_for_any_positive_ttl_and_counts(ttl, stored):
    # given
    counter = Counter("x")

    @cacheable(key="roles_async", ttl=ttl)
    async def roles():
        return counter()

    async def scenario():
        return [await roles(), await roles()]

    # when
    results = asyncio.run(scenario())

    # then: computed once when stored; counted under its family either way
    assert results == ["x", "x"]
    assert counter.calls == (1 if stored else 2)
    row = CacheManager.get_stats()["families"]["roles_async"]
    assert (row["misses"], row["sets"], row["hits"]) == ((1, 1, 1) if stored else (2, 0, 0))


@pytest.mark.django_db(transaction=True)
def test_an_async_fill_of_a_model_value_is_not_stored_while_a_write_to_its_model_is_pending():
    # given: a write to errands in flight (begun, its commit not settled yet): its pending mark holds off guarded
    # fills of errands
    errand = ErrandFactory(title="Buy bread")
    get_store().begin_write(families=[f"@errands.errand:{errand.pk}"], clocks=["errands.errand"])
    calls = Counter()

    @cacheable(key="errand_async:{{pk}}", ttl=60)
    async def one_errand(pk):
        calls()
        return await Errand.objects.aget(pk=pk)

    async def scenario():
        return [(await one_errand(errand.pk)).title, (await one_errand(errand.pk)).title]

    # when
    titles = asyncio.run(scenario())

    # then: nothing was stored, so it was computed twice
    assert titles == ["Buy bread", "Buy bread"]
    assert calls.calls == 2


@override_settings(CACHE_ENABLED=False)
def test_async_disabled_calls_through():
    counter = Counter("x")

    @cacheable
    async def roles():
        return counter()

    async def scenario():
        await roles()
        await roles()

    asyncio.run(scenario())
    assert counter.calls == 2


# --- invalidate_cache -------------------------------------------------------------------------------------------


def _cached_errand_lists():
    counter = Counter(["list"])

    @cacheable(key="errand_list:{{status}}")
    def errand_list(status):
        return counter()

    @cacheable(key="user_errands:{{user_id}}")
    def my_errands(user_id):
        return counter()

    return counter, errand_list, my_errands


def test_invalidate_cache_bumps_after_the_function_returns():
    # given
    counter, errand_list, my_errands = _cached_errand_lists()

    @invalidate_cache(patterns=["errand_list:*", "user_errands:{{created_by}}"])
    def create_errand(title, created_by):
        # Still valid while the write runs: invalidation happens after.
        assert CacheManager.get("errand_list:OPEN") == ["list"]
        return title

    errand_list("OPEN")
    my_errands(3)
    my_errands(4)

    # when
    assert create_errand("Buy bread", created_by=3) == "Buy bread"

    # then
    errand_list("OPEN")
    my_errands(3)
    my_errands(4)
    assert counter.calls == 5  # list and user 3 recomputed; user 4 untouched


def test_invalidate_cache_runs_even_when_the_function_raises():
    counter, errand_list, _ = _cached_errand_lists()

    @invalidate_cache("errand_list:*")
    def half_done():
        raise ValueError("wrote one row, then failed")

    errand_list("OPEN")
    with pytest.raises(ValueError):
        half_done()
    errand_list("OPEN")

    assert counter.calls == 2


def test_invalidate_cache_with_inner_glob_scans():
    counter, errand_list, _ = _cached_errand_lists()

    @invalidate_cache("errand_*:OPEN")
    def reopen():
        return None

    errand_list("OPEN")
    errand_list("DONE")
    reopen()
    errand_list("OPEN")
    errand_list("DONE")

    assert counter.calls == 3


def test_invalidate_cache_key_and_invalidate_do_not_call_the_function():
    counter, errand_list, _ = _cached_errand_lists()
    calls = []

    @invalidate_cache(patterns=["errand_list:{{status}}", "user:{{user_id}}:*"])
    def update_errand(status, user_id):
        calls.append(1)

    errand_list("OPEN")
    assert update_errand.key("OPEN", user_id=5) == [f"{key_prefix()}:errand_list:OPEN", f"{key_prefix()}:user:5:*"]
    update_errand.invalidate("OPEN", user_id=5)
    errand_list("OPEN")

    assert calls == []
    assert counter.calls == 2


def test_invalidate_cache_skips_a_pattern_through_none_and_logs_a_broken_one(caplog):
    # given
    counter, errand_list, _ = _cached_errand_lists()
    errand = SimpleNamespace(id=3, runner=None)

    @invalidate_cache("errand_list:*", "user_errands:{{errand.runner.id}}", "errand:{{errand.idd}}")
    def errand_cancel(errand):
        return "cancelled"

    errand_list("OPEN")

    # when
    with caplog.at_level(logging.ERROR, logger="core.cache"):
        result = errand_cancel(errand)

    # then the call succeeds, the resolvable pattern ran, only the typo is reported
    assert result == "cancelled"
    errand_list("OPEN")
    assert counter.calls == 2
    assert [r.getMessage() for r in caplog.records] == [
        "test_invalidate_cache_skips_a_pattern_through_none_and_logs_a_broken_one.<locals>.errand_cancel: "
        "invalidation 'errand:{{errand.idd}}' skipped: cache key template needs {{errand.idd}}: 'idd' is missing"
    ]


def test_an_invalidation_pattern_naming_an_unknown_argument_fails_at_decoration():
    with pytest.raises(TypeError, match="close_errand: cache key template names 'errand_id', which is not an argument"):

        @invalidate_cache("errand:{{errand_id}}")
        def close_errand(pk):
            return pk


def test_invalidate_cache_needs_patterns():
    with pytest.raises(TypeError, match="patterns"):

        @invalidate_cache
        def f():
            return None

    with pytest.raises(TypeError, match="pattern"):
        invalidate_cache()


@pytest.fixture
def settled(monkeypatch) -> list:
    """The after-commit halves of invalidations (GenerationStore.settle_write calls), as they happen."""
    from core.cache.store import GenerationStore

    calls = []
    real_settle = GenerationStore.settle_write

    def spy(self, *args, **kwargs):
        calls.append(kwargs)
        return real_settle(self, *args, **kwargs)

    monkeypatch.setattr(GenerationStore, "settle_write", spy)
    return calls


@pytest.mark.django_db(transaction=True)
def test_invalidate_cache_inside_a_transaction_invalidates_at_once_and_again_after_commit(settled):
    # given
    counter, errand_list, _ = _cached_errand_lists()

    @invalidate_cache("errand_list:*")
    def create_errand():
        return None

    errand_list("OPEN")

    # when / then: the transaction that invalidated reads through (it has written); the entry stopped validating
    # at once, and the second bump waits for the commit
    with transaction.atomic():
        create_errand()
        errand_list("OPEN")
        assert counter.calls == 2
        assert settled == []
    assert len(settled) == 1
    errand_list("OPEN")
    errand_list("OPEN")
    assert counter.calls == 3  # computed once after the commit, then served


@pytest.mark.django_db(transaction=True)
def test_invalidate_cache_in_a_rolled_back_transaction_costs_a_miss_never_a_wrong_value(settled):
    counter, errand_list, _ = _cached_errand_lists()

    @invalidate_cache("errand_list:*")
    def create_errand():
        return None

    errand_list("OPEN")
    with pytest.raises(RuntimeError), transaction.atomic():
        create_errand()
        raise RuntimeError("rolled back: nothing changed")

    errand_list("OPEN")
    # the rollback settled it at once: the manual clock's mark, which holds off every guarded fill, is lifted
    assert settled == [{"families": ["errand_list"], "clocks": ["*"], "rows": False}]
    assert counter.calls == 2  # the entry was invalidated before the rollback was known: one recomputation


def test_async_invalidate_cache():
    counter, errand_list, _ = _cached_errand_lists()

    @invalidate_cache("errand_list:*")
    async def create_errand():
        return "created"

    errand_list("OPEN")
    assert asyncio.run(create_errand()) == "created"
    assert asyncio.iscoroutinefunction(create_errand)
    assert create_errand.patterns == ["errand_list:*"]
    errand_list("OPEN")

    assert counter.calls == 2
    assert CacheManager.get_stats()["families"]["errand_list"]["invalidations"] == 1


def test_async_invalidate_cache_with_inner_glob_scans():
    counter, errand_list, _ = _cached_errand_lists()

    @invalidate_cache("errand_*:OPEN")
    async def reopen():
        return None

    errand_list("OPEN")
    errand_list("DONE")
    asyncio.run(reopen())
    errand_list("OPEN")
    errand_list("DONE")

    assert counter.calls == 3


# --- transactions -----------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_transaction_that_has_written_neither_reads_nor_fills():
    # given
    counter = Counter(["row"])

    @cacheable(key="errand:{{errand_id}}")
    def errand(errand_id):
        return counter()

    errand(1)

    # when
    with transaction.atomic():
        mark_dirty("default")  # what a tracked model write does
        errand(1)
        errand(2)

    # then
    assert counter.calls == 3
    errand(1)
    errand(2)
    assert counter.calls == 4  # 1 was cached before; 2 was not stored from inside the transaction


@pytest.mark.django_db(transaction=True)
def test_a_transaction_that_wrote_a_tracked_row_sees_its_own_write_not_the_cache():
    # given: a cached count whose key names no family an errand write bumps
    @cacheable(key="board_size")
    def board_size():
        return Errand.objects.count()

    ErrandFactory()
    assert board_size() == 1

    # when
    with transaction.atomic():
        ErrandFactory()
        inside = board_size()

    # then
    assert inside == 2
