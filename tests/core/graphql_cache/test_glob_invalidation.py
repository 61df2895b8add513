"""A glob invalidation (CacheManager.invalidate("banks*"), clear_cache --pattern, the dashboard) cannot know
what whole cached responses contain, so it reaches them too."""

import pytest
from django.core.management import call_command
from django.db import connection

from core.cache import CacheManager
from core.factories import BankFactory
from tests.core.graphql_cache.oracle import post, uncached

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("cache_backend")]

BANKS_QUERY = 'query Banks { banks(country: "NG") { name } }'


def _raw_rename(bank_id: int, name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("UPDATE accounts_bank SET name = %s WHERE id = %s", [name, bank_id])


@pytest.mark.parametrize(
    "invalidate",
    [
        pytest.param(lambda: CacheManager.invalidate("banks*"), id="CacheManager.invalidate"),
        pytest.param(lambda: call_command("clear_cache", pattern="banks*", verbosity=0), id="clear_cache"),
    ],
)
def test_a_glob_invalidation_reaches_what_the_fast_path_cached(api_client, invalidate):
    # given
    bank = BankFactory(country="NG", name="Access")
    assert post(api_client, BANKS_QUERY)["data"]["banks"] == [{"name": "Access"}]
    # when: a write the ORM does not see, then the glob invalidation the docs offer
    _raw_rename(bank.pk, "Access Bank")
    invalidate()
    # then
    expected = uncached(api_client, BANKS_QUERY)
    assert expected["data"]["banks"] == [{"name": "Access Bank"}]
    assert post(api_client, BANKS_QUERY) == expected


def test_a_family_invalidation_reaches_it_too(api_client):
    bank = BankFactory(country="NG", name="Access")
    post(api_client, BANKS_QUERY)
    _raw_rename(bank.pk, "Access Bank")
    CacheManager.invalidate("banks_list:*")
    assert post(api_client, BANKS_QUERY)["data"]["banks"] == [{"name": "Access Bank"}]
