"""CacheManager: the same behaviour on LocMem and on a real redis-server (the `cache_backend` fixture)."""

import logging
import threading
from decimal import Decimal

import pytest
from django.core.cache import caches
from django.test import override_settings

from accounts.models import Bank
from core.cache import CacheManager, warmer
from core.cache.conf import key_prefix
from core.cache.manager import _warmers, full_key
from core.cache.store import get_store
from core.factories import BankFactory
from tests.fixtures.cache import until

pytestmark = pytest.mark.usefixtures("cache_backend")


def test_get_is_default_on_a_miss_and_the_value_after_set():
    # given
    assert CacheManager.get("banks_list:NG", default="none") == "none"

    # when
    stored = CacheManager.set("banks_list:NG", [{"code": "044", "fee": Decimal("10.50")}], ttl=60)

    # then
    assert stored is True
    assert CacheManager.get("banks_list:NG") == [{"code": "044", "fee": Decimal("10.50")}]


def test_keys_with_and_without_the_prefix_are_the_same_entry():
    CacheManager.set(f"{key_prefix()}:errand:7", {"title": "Buy bread"})

    assert CacheManager.get("errand:7") == {"title": "Buy bread"}


def test_a_cached_none_is_a_hit_not_a_miss():
    CacheManager.set("user:5:nickname", None)

    assert CacheManager.get("user:5:nickname", default="missing") is None


def test_set_overwrites_an_existing_value():
    CacheManager.set("roles", ["runner"])

    CacheManager.set("roles", ["runner", "customer"])

    assert CacheManager.get("roles") == ["runner", "customer"]


def test_delete_removes_the_entry_and_its_sub_keys():
    # given
    CacheManager.set("user:5", {"id": 5})
    CacheManager.set("user:5:data", {"theme": "dark"})
    CacheManager.set("user:50:data", {"theme": "light"})

    # when
    CacheManager.delete("user:5")

    # then
    assert CacheManager.get("user:5") is None
    assert CacheManager.get("user:5:data") is None
    assert CacheManager.get("user:50:data") == {"theme": "light"}


def test_delete_of_a_deeper_key_leaves_its_siblings_and_counts_one_invalidation():
    # given
    CacheManager.set("user:5:data", {"theme": "dark"})
    CacheManager.set("user:5:profile", {"bio": "runner"})

    # when
    CacheManager.delete("user:5:data")

    # then
    assert CacheManager.get("user:5:data") is None
    assert CacheManager.get("user:5:profile") == {"bio": "runner"}
    assert CacheManager.get_stats()["families"]["user"]["invalidations"] == 1


def test_invalidate_a_family_leaves_other_families_alone():
    # given
    CacheManager.set("errand_list:open:1", [1, 2])
    CacheManager.set("errand_list:open:2", [3])
    CacheManager.set("errand:1", {"id": 1})

    # when
    result = CacheManager.invalidate("errand_list:*")

    # then
    assert result is None  # a generation bump: nothing scanned, nothing counted
    assert CacheManager.get("errand_list:open:1") is None
    assert CacheManager.get("errand_list:open:2") is None
    assert CacheManager.get("errand:1") == {"id": 1}


def test_invalidate_template_fills_and_escapes_values():
    # given
    CacheManager.set("user:5:data", "five")
    CacheManager.set("user:50:data", "fifty")

    # when a value carrying a glob is given, it cannot widen the pattern
    CacheManager.invalidate("user:{{id}}:*", {"id": "*"})

    # then
    assert CacheManager.get("user:5:data") == "five"
    CacheManager.invalidate("user:{{id}}:*", {"id": 5})
    assert CacheManager.get("user:5:data") is None
    assert CacheManager.get("user:50:data") == "fifty"


def test_invalidate_with_an_inner_glob_scans_and_counts():
    CacheManager.set("banks_list:NG", ["a"])
    CacheManager.set("banks_list:GH", ["b"])
    CacheManager.set("roles", ["c"])

    removed = CacheManager.invalidate("banks*")

    assert removed == 2
    assert CacheManager.get("banks_list:NG") is None
    assert CacheManager.get("roles") == ["c"]
    assert CacheManager.get_stats()["families"]["banks*"]["invalidations"] == 2  # under the glob's first segment


def test_delete_pattern_counts_what_it_removed_as_invalidations_and_a_dry_run_counts_none():
    # given
    CacheManager.set("report:1:a", 1)
    CacheManager.set("report:2:a", 2)
    CacheManager.set("report:3:b", 3)

    # when
    assert CacheManager.delete_pattern("report:*:a", dry_run=True) == 2
    dry = CacheManager.get_stats()["families"]["report"]["invalidations"]
    assert CacheManager.delete_pattern("report:*:a") == 2
    assert CacheManager.delete_pattern("report:*:none") == 0

    # then
    assert dry == 0
    assert CacheManager.get_stats()["families"]["report"]["invalidations"] == 2


def test_delete_pattern_counts_and_dry_run_removes_nothing():
    # given
    for n in range(3):
        CacheManager.set(f"user:{n}:data", n)
    CacheManager.set("errand:1", 1)

    # when / then
    assert CacheManager.delete_pattern("u*r:*", dry_run=True) == 3
    assert CacheManager.get("user:1:data") == 1
    assert CacheManager.delete_pattern("u*r:*") == 3
    assert CacheManager.get("user:1:data") is None
    assert CacheManager.get("errand:1") == 1


def test_a_glob_over_everything_counts_and_removes_entries_not_bookkeeping():
    # given: two entries, and the generations, write clocks and lock their reads and fills created
    CacheManager.set("user:1:data", 1)
    CacheManager.get_or_set("errand:1", lambda: 1)

    # when / then: only the two entries are counted and removed
    assert CacheManager.delete_pattern("*", dry_run=True) == 2
    assert CacheManager.delete_pattern("*") == 2
    assert CacheManager.delete_pattern("*", dry_run=True) == 0
    assert CacheManager.get("user:1:data") is None
    assert CacheManager.get_or_set("errand:1", lambda: 2) == 2


def test_a_glob_counts_and_removes_more_keys_than_two_scan_batches():
    # given: more entries than two batches of the scan (1,000 each)
    for n in range(2050):
        CacheManager.set(f"user:{n}:data", n)

    # when / then
    assert CacheManager.delete_pattern("user:*:data", dry_run=True) == 2050
    assert CacheManager.delete_pattern("user:*:data") == 2050
    assert CacheManager.get("user:0:data") is None
    assert CacheManager.get("user:2049:data") is None


@pytest.mark.parametrize("glob", ["", "   ", f"{key_prefix()}:"])
def test_delete_pattern_refuses_an_empty_glob(glob):
    with pytest.raises(ValueError, match="non-empty"):
        CacheManager.delete_pattern(glob)


def test_get_or_set_computes_once_then_serves():
    calls = []

    def compute():
        calls.append(1)
        return {"count": len(calls)}

    assert CacheManager.get_or_set("errand_list:count", compute, ttl=60) == {"count": 1}
    assert CacheManager.get_or_set("errand_list:count", compute, ttl=60) == {"count": 1}
    assert len(calls) == 1


def test_get_or_set_never_caches_an_exception():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database hiccup")
        return "ok"

    with pytest.raises(RuntimeError):
        CacheManager.get_or_set("roles", flaky)
    assert CacheManager.get_or_set("roles", flaky) == "ok"
    assert len(calls) == 2


def test_get_or_set_under_16_threads_computes_once(patient_cache):
    # given
    threads_count = 16
    start = threading.Barrier(threads_count)
    calls, results = [], []

    def misses() -> int:
        return CacheManager.get_stats()["families"].get("banks_list", {}).get("misses", 0)

    def compute():
        calls.append(1)
        # Hold the lock until every thread has had its miss: the others must wait for this value, not compute.
        assert until(lambda: misses() == threads_count)
        return {"banks": ["044", "058"]}

    def worker():
        start.wait()
        results.append(CacheManager.get_or_set("banks_list:NG", compute, ttl=60))

    # when
    threads = [threading.Thread(target=worker) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then
    assert len(calls) == 1
    assert results == [{"banks": ["044", "058"]}] * threads_count


def test_a_caller_that_waited_in_vain_for_the_lock_holder_computes_and_stores_itself(settings):
    # given: another caller holds the key's lock and never stores (it died, or is slow)
    settings.CACHE_SINGLE_FLIGHT_WAIT = 0.05
    assert get_store().acquire(full_key("report:1"), 60_000)

    # when
    value = CacheManager.get_or_set("report:1", lambda: "computed by the waiter", ttl=60)

    # then: it computed after its bounded wait, and what it computed is served next
    assert value == "computed by the waiter"
    assert CacheManager.get("report:1", default="miss") == "computed by the waiter"


@pytest.mark.django_db(transaction=True)  # a fill inside a transaction is never stored: commit as production does
def test_a_waiter_s_computation_during_which_a_row_it_shows_was_added_is_not_stored(settings):
    # given: the lock held by another caller, and a computation that reads the banks, during which a bank is added
    settings.CACHE_SINGLE_FLIGHT_WAIT = 0.05
    BankFactory(country="NG", name="First")
    assert get_store().acquire(full_key("report:2"), 60_000)

    def compute() -> list[Bank]:
        banks = list(Bank.objects.filter(country="NG"))
        BankFactory(country="NG", name="Second")
        return banks

    # when
    value = CacheManager.get_or_set("report:2", compute, ttl=60)

    # then: the write clocks read by the first lookup guard the waiter's fill too
    assert [bank.name for bank in value] == ["First"]
    assert CacheManager.get("report:2", default="miss") == "miss"


def test_values_that_are_not_json_are_returned_but_not_stored(caplog):
    marker = object()

    with caplog.at_level(logging.WARNING, logger="core.cache"):
        assert CacheManager.get_or_set("user:1:obj", lambda: marker) is marker
    assert CacheManager.get("user:1:obj", default="miss") == "miss"
    assert "not cacheable" in caplog.text


def test_clear_all_removes_only_our_prefix():
    # given
    CacheManager.set("errand:1", 1)
    CacheManager.set("user:1:data", 2)
    caches["default"].set("otherapp:session:1", "theirs", 60)

    # when
    removed = CacheManager.clear_all()

    # then
    assert removed >= 2
    assert CacheManager.get("errand:1") is None
    assert CacheManager.get("user:1:data") is None
    assert caches["default"].get("otherapp:session:1") == "theirs"


def test_clear_all_dry_run_counts_and_removes_nothing():
    # given
    CacheManager.set("errand:1", 1)
    CacheManager.set("user:1:data", 2)

    # when
    counted = CacheManager.clear_all(dry_run=True)

    # then
    assert counted >= 2
    assert CacheManager.get("errand:1") == 1
    assert CacheManager.get("user:1:data") == 2


def test_get_stats_counts_hits_misses_sets_per_family():
    # given
    CacheManager.get("errand:1")
    CacheManager.set("errand:1", {"id": 1})
    CacheManager.get("errand:1")
    CacheManager.get("errand:1")
    CacheManager.invalidate("errand:1")

    # when
    stats = CacheManager.get_stats()

    # then
    errand = stats["families"]["errand"]
    assert (errand["hits"], errand["sets"], errand["invalidations"]) == (2, 1, 1)
    assert errand["misses"] >= 1
    assert stats["overall"]["hits"] >= 2
    assert stats["backend"]["healthy"] is True


@pytest.fixture
def clean_warmers():
    saved = dict(_warmers)
    _warmers.clear()
    yield
    _warmers.clear()
    _warmers.update(saved)


@pytest.mark.usefixtures("clean_warmers")
def test_warm_up_runs_registered_warmers_and_skips_failing_ones(caplog):
    # given
    @warmer(name="banks")
    def warm_banks():
        CacheManager.set("banks_list:NG", ["044"])

    @CacheManager.warmer
    def warm_roles():
        raise RuntimeError("db down")

    # when
    with caplog.at_level(logging.ERROR, logger="core.cache"):
        ran = CacheManager.warm_up()

    # then
    assert ran == ["banks"]
    assert CacheManager.get("banks_list:NG") == ["044"]
    assert "warm_roles failed" in caplog.text
    assert CacheManager.warm_up(names=["banks"]) == ["banks"]


def test_a_failing_warmer_does_not_stop_the_warmers_after_it(caplog):
    # given: a failing warmer registered before a good one
    @warmer(name="first fails")
    def warm_nothing():
        raise RuntimeError("db down")

    @warmer(name="then banks")
    def warm_banks():
        CacheManager.set("banks_list:GH", ["030100"])

    # when
    with caplog.at_level(logging.ERROR, logger="core.cache"):
        ran = CacheManager.warm_up(names=["first fails", "then banks"])

    # then
    assert ran == ["then banks"]
    assert CacheManager.get("banks_list:GH") == ["030100"]


@override_settings(CACHE_ENABLED=False)
def test_disabled_cache_calls_through_and_stores_nothing():
    calls = []

    assert CacheManager.set("roles", ["x"]) is False
    assert CacheManager.get("roles", default="miss") == "miss"
    assert CacheManager.get_or_set("roles", lambda: calls.append(1) or len(calls)) == 1
    assert CacheManager.get_or_set("roles", lambda: calls.append(1) or len(calls)) == 2
    with override_settings(CACHE_ENABLED=True):
        assert CacheManager.get("roles", default="miss") == "miss"


def test_an_unreadable_entry_is_a_miss_that_is_removed(caplog):
    # given: an entry whose payload is not a cached value (written by another version, or damaged)
    store = get_store()
    assert store.store(store.ticket(f"{key_prefix()}:user:5:data"), "{not json", 60)

    # when
    with caplog.at_level(logging.WARNING, logger="core.cache"):
        first = CacheManager.get("user:5:data", default="missing")
        computed = CacheManager.get_or_set("user:5:data", lambda: {"theme": "dark"}, ttl=60)

    # then: a miss each time it is read, never an error; computed again and stored in its place
    assert first == "missing"
    assert computed == {"theme": "dark"}
    assert CacheManager.get("user:5:data") == {"theme": "dark"}
    assert "unreadable" in caplog.text
