"""The shipped cache warmers (banks per country, roles) and `manage.py warm_cache`."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Bank
from accounts.selectors import bank_list, role_list
from core.cache import CacheManager
from core.factories import BankFactory, RoleFactory
from tests.fixtures.api import get_graphql_content

# Transactional: inside a test transaction that has written, the cache is (rightly) neither read nor filled.
pytestmark = pytest.mark.django_db(transaction=True)

BANKS_QUERY = 'query { banks(country: "NG") { name code } }'
ROLES_QUERY = "query { roles { name } }"


def warm(*args: str) -> str:
    out = StringIO()
    call_command("warm_cache", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def reference_data():
    BankFactory(country="NG", code="044", name="Access Bank")
    BankFactory(country="NG", code="058", name="Guaranty Trust Bank")
    BankFactory(country="GH", code="040100", name="GCB Bank")
    RoleFactory(name="runner")
    RoleFactory(name="customer")


@pytest.mark.usefixtures("reference_data")
def test_warm_cache_fills_banks_per_country_and_roles(redis_cache, api_client, django_assert_num_queries):
    # when
    out = warm()

    # then: the API's resolvers read them without SQL, on a GraphQL miss
    assert "Warmed 2 of 2: banks, roles (redis)." in out
    with django_assert_num_queries(0):
        assert [bank.code for bank in bank_list(country="GH")] == ["040100"]
        banks = get_graphql_content(api_client.post_graphql(BANKS_QUERY))["data"]["banks"]
        roles = get_graphql_content(api_client.post_graphql(ROLES_QUERY))["data"]["roles"]
    assert [bank["name"] for bank in banks] == ["Access Bank", "Guaranty Trust Bank"]
    assert [role["name"] for role in roles] == ["customer", "runner"]


@pytest.mark.usefixtures("reference_data", "cache_backend")
def test_warmed_banks_are_dropped_by_a_write(django_assert_num_queries):
    # given
    warm("--name", "banks")

    # when
    Bank.objects.filter(code="044").update(name="Access Bank Plc")

    # then
    with django_assert_num_queries(1):
        assert [bank.name for bank in bank_list(country="ng")] == ["Access Bank Plc", "Guaranty Trust Bank"]


@pytest.mark.usefixtures("reference_data", "cache_backend")
def test_warmed_roles_are_dropped_when_a_role_is_added(django_assert_num_queries):
    # given
    warm("--name", "roles")

    # when
    RoleFactory(name="support")

    # then
    with django_assert_num_queries(1):
        assert [role.name for role in role_list()] == ["customer", "runner", "support"]


def test_warm_up_runs_the_shipped_warmers(cache_backend):
    # when
    ran = CacheManager.warm_up()

    # then
    assert {"banks", "roles"} <= set(ran)


def test_warm_cache_refuses_an_unknown_warmer():
    with pytest.raises(CommandError, match=r"no warmer named nope; registered: .*banks, roles"):
        warm("--name", "nope")


@pytest.mark.usefixtures("reference_data")
def test_warm_cache_on_local_memory_says_it_filled_only_its_own_memory(settings):
    # when
    out = warm()

    # then
    assert "Warmed 2 of 2: banks, roles (locmem)." in out
    assert "this filled only this command's own memory" in out
