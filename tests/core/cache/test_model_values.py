"""Model instances, lists of them and querysets as cached values: JSON, rebuilt without a query, and dropped by
the same writes that drop everything else."""

import logging
from datetime import UTC, date, datetime

import pytest
from django.contrib.auth.models import Group

from accounts.models import Bank, User, UserProfile
from core.cache import CacheManager, cache_result, cacheable
from core.cache.serializers import dumps, loads
from core.factories import BankFactory, ErrandFactory, UserFactory
from errands.models import Errand

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("cache_backend")]


def test_a_profile_is_cached_and_rebuilt_without_a_query(django_assert_num_queries):
    # given
    user = UserFactory(profile__country="GH", profile__phone="+233201234567")

    @cache_result(timeout=600, key_prefix="user_profile")
    def get_user_profile(user_id):
        return UserProfile.objects.get(user_id=user_id)

    first = get_user_profile(user.id)

    # when
    with django_assert_num_queries(0):
        again = get_user_profile(user.id)

    # then
    assert isinstance(again, UserProfile)
    assert again == first
    assert (again.country, again.phone, again.user_id) == ("GH", "+233201234567", user.id)
    assert again._state.adding is False and again._state.db == "default"


def test_a_profile_entry_is_dropped_by_a_write_to_that_profile(django_assert_num_queries):
    # given
    user = UserFactory(profile__country="GH")

    @cache_result(timeout=600, key_prefix="profile_of")  # a family no invalidation template names
    def profile_of(user_id):
        return UserProfile.objects.get(user_id=user_id)

    profile_of(user.id)
    profile = UserProfile.objects.get(user_id=user.id)
    profile.country = "KE"

    # when
    profile.save()

    # then
    with django_assert_num_queries(1):
        assert profile_of(user.id).country == "KE"


def test_select_related_objects_come_back_too(django_assert_num_queries):
    # given
    user = UserFactory(username="ada", profile__country="NG")
    key = f"user:{user.id}:profile"

    def fetch_user():
        return User.objects.select_related("profile").get(id=user.id)

    CacheManager.get_or_set(key, fetch_user, ttl=600)

    # when
    with django_assert_num_queries(0):
        cached = CacheManager.get_or_set(key, fetch_user, ttl=600)
        country = cached.profile.country

    # then
    assert (cached.username, country) == ("ada", "NG")


def test_a_queryset_is_cached_as_its_rows_and_dropped_when_a_row_is_added(django_assert_num_queries):
    # given
    BankFactory(country="NG", code="044", name="Access Bank")

    @cacheable(key="bank_rows:{{country}}", ttl=600)
    def banks(country):
        return Bank.objects.filter(country=country).order_by("code")

    assert [bank.name for bank in banks("NG")] == ["Access Bank"]
    with django_assert_num_queries(0):
        assert [bank.code for bank in banks("NG")] == ["044"]

    # when
    BankFactory(country="NG", code="058", name="Guaranty Trust Bank")

    # then
    with django_assert_num_queries(1):
        assert [bank.code for bank in banks("NG")] == ["044", "058"]


def test_a_values_queryset_is_cached_as_plain_rows(django_assert_num_queries):
    # given
    BankFactory(country="KE", code="01", name="KCB Bank")

    @cacheable(key="bank_names:{{country}}", ttl=600)
    def bank_names(country):
        return Bank.objects.filter(country=country).values("code", "name")

    bank_names("KE")

    # when
    with django_assert_num_queries(0):
        rows = bank_names("KE")

    # then
    assert rows == [{"code": "01", "name": "KCB Bank"}]  # a list: the queryset was evaluated when stored


ROW_SHAPES = {
    "values": lambda banks: banks.values("code", "name"),
    "values_list": lambda banks: banks.values_list("code", "name"),
    "flat values_list": lambda banks: banks.values_list("code", flat=True),
}


@pytest.mark.parametrize("shape", ROW_SHAPES.values(), ids=ROW_SHAPES.keys())
def test_a_values_queryset_is_dropped_when_a_row_is_added(shape, django_assert_num_queries):
    # given: no Bank template bumps `bank_names`, so only the model's own families can drop the entry
    BankFactory(country="KE", code="01", name="KCB Bank")

    @cacheable(key="bank_names:{{country}}", ttl=600)
    def bank_names(country):
        return shape(Bank.objects.filter(country=country).order_by("code"))

    assert len(bank_names("KE")) == 1

    # when
    BankFactory(country="KE", code="02", name="Equity Bank")

    # then
    with django_assert_num_queries(1):
        assert len(bank_names("KE")) == 2


def _rename(bank):
    bank.name = "KCB"
    bank.save()


# A write to the first of two rows, and the names the queryset shows afterwards.
ROW_WRITES = {
    "save": (_rename, ["KCB", "Equity Bank"]),
    "delete": (lambda bank: bank.delete(), ["Equity Bank"]),
}


@pytest.mark.parametrize(("write", "names"), ROW_WRITES.values(), ids=ROW_WRITES.keys())
def test_a_values_queryset_is_dropped_when_one_of_its_rows_is_written(write, names, django_assert_num_queries):
    # given
    bank = BankFactory(country="KE", code="01", name="KCB Bank")
    BankFactory(country="KE", code="02", name="Equity Bank")

    @cacheable(key="bank_names:{{country}}", ttl=600)
    def bank_names(country):
        return Bank.objects.filter(country=country).order_by("code").values("code", "name")

    bank_names("KE")

    # when
    write(bank)

    # then
    with django_assert_num_queries(1):
        assert [row["name"] for row in bank_names("KE")] == names


def test_a_dates_queryset_is_dropped_when_a_row_is_added(django_assert_num_queries):
    # given: no Errand template bumps `deadline_days`
    ErrandFactory(deadline=datetime(2030, 1, 5, 12, tzinfo=UTC))

    @cacheable(key="deadline_days", ttl=600)
    def deadline_days():
        return Errand.objects.dates("deadline", "day")

    assert list(deadline_days()) == [date(2030, 1, 5)]

    # when
    ErrandFactory(deadline=datetime(2030, 1, 9, 12, tzinfo=UTC))

    # then
    with django_assert_num_queries(1):
        assert list(deadline_days()) == [date(2030, 1, 5), date(2030, 1, 9)]


def test_bulk_update_drops_a_cached_instance(django_assert_num_queries):
    # given
    bank = BankFactory(country="GH", code="040100", name="GCB Bank")

    @cacheable(key="one_bank:{{bank_id}}", ttl=600)
    def one_bank(bank_id):
        return Bank.objects.get(id=bank_id)

    one_bank(bank.id)

    # when
    Bank.objects.filter(id=bank.id).update(name="GCB")

    # then
    with django_assert_num_queries(1):
        assert one_bank(bank.id).name == "GCB"


def test_a_write_during_the_computation_keeps_the_result_out_of_the_cache():
    # given
    bank = BankFactory(country="NG", code="057", name="Zenith Bank")
    calls = []

    @cacheable(key="racing_bank:{{bank_id}}", ttl=600)
    def racing_bank(bank_id):
        calls.append(bank_id)
        found = Bank.objects.get(id=bank_id)
        if len(calls) == 1:
            Bank.objects.filter(id=bank_id).update(name="Zenith")  # another writer, after our read
        return found

    # when
    racing_bank(bank.id)
    second = racing_bank(bank.id)

    # then
    assert len(calls) == 2
    assert second.name == "Zenith"


def test_an_untracked_model_is_returned_uncached(caplog):
    # given
    group = Group.objects.create(name="support")
    calls = []

    @cacheable(key="group:{{group_id}}", ttl=600)
    def get_group(group_id):
        calls.append(group_id)
        return Group.objects.get(id=group_id)

    # when
    with caplog.at_level(logging.WARNING, logger="core.cache"):
        get_group(group.id)
        get_group(group.id)

    # then: nothing would ever invalidate it, so it is not stored
    assert len(calls) == 2
    assert "not tracked" in caplog.text


def test_deferred_fields_stay_deferred(django_assert_num_queries):
    # given
    BankFactory(country="ZA", code="250655", name="FNB")
    bank = Bank.objects.only("id", "code").get(code="250655")

    # when
    with django_assert_num_queries(0):
        again = loads(dumps(bank))

    # then
    assert again.code == "250655"
    assert again.get_deferred_fields() == {"name", "country"}


CONTAINERS = {
    "list": list,
    "tuple": tuple,
    "set": set,
    "frozenset": frozenset,
    "dict": lambda banks: {bank.code: bank for bank in banks},
    "dict with int keys": lambda banks: {n: bank for n, bank in enumerate(banks)},
    "dict keyed by instances": lambda banks: {bank: bank.code for bank in banks},
}


@pytest.mark.parametrize("container", CONTAINERS.values(), ids=CONTAINERS.keys())
def test_a_container_of_instances_is_dropped_when_a_row_is_added(container, django_assert_num_queries):
    # given: instances in a container may be one list of rows, which a new row changes
    BankFactory(country="NG", code="044", name="Access Bank")

    @cacheable(key="bank_box:{{country}}", ttl=600)
    def banks(country):
        return container(Bank.objects.filter(country=country))

    assert len(banks("NG")) == 1

    # when
    BankFactory(country="NG", code="058", name="Guaranty Trust Bank")

    # then
    with django_assert_num_queries(1):
        assert len(banks("NG")) == 2


def test_a_null_foreign_key_loaded_by_select_related_comes_back_as_none(django_assert_num_queries):
    # given: select_related remembers the missing runner as None
    errand = ErrandFactory(runner=None)

    @cacheable(key="errand_with_runner:{{errand_id}}", ttl=600)
    def errand_with_runner(errand_id):
        return Errand.objects.select_related("runner").get(id=errand_id)

    errand_with_runner(errand.id)

    # when
    with django_assert_num_queries(0):
        cached = errand_with_runner(errand.id)
        runner = cached.runner

    # then
    assert cached.id == errand.id
    assert runner is None


def test_a_single_instance_is_kept_when_another_row_of_its_model_is_written(django_assert_num_queries):
    # given
    bank = BankFactory(country="GH", code="040100", name="GCB Bank")
    other = BankFactory(country="GH", code="030100", name="Absa Ghana")

    @cacheable(key="one_bank:{{bank_id}}", ttl=600)
    def one_bank(bank_id):
        return Bank.objects.get(id=bank_id)

    one_bank(bank.id)

    # when
    other.name = "Absa Bank Ghana"
    other.save()

    # then: that row was never part of this entry
    with django_assert_num_queries(0):
        assert one_bank(bank.id).name == "GCB Bank"


def test_bulk_create_passes_its_options_on_and_drops_the_cached_list(django_assert_num_queries):
    # given
    BankFactory(country="NG", code="044", name="Access Bank")

    @cacheable(key="bank_rows:{{country}}", ttl=600)
    def banks(country):
        return list(Bank.objects.filter(country=country).order_by("code"))

    banks("NG")

    # when: a conflicting row is skipped, as asked, and a new one is added
    Bank.objects.bulk_create(
        [Bank(country="NG", code="044", name="Access"), Bank(country="NG", code="058", name="GTBank")],
        ignore_conflicts=True,
    )

    # then
    with django_assert_num_queries(1):
        assert [bank.code for bank in banks("NG")] == ["044", "058"]
