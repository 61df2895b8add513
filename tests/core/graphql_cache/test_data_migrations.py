"""Writes from a data migration go through historical model classes (same label, plain manager): they
invalidate too."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from accounts.models import Bank
from core.factories import BankFactory
from tests.core.graphql_cache.oracle import post, uncached

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("cache_backend")]

BANKS_QUERY = 'query Banks { banks(country: "NG") { name } }'


def _historical(app_label: str, model_name: str):
    """The model class a RunPython function receives as apps.get_model(...)."""
    state = MigrationExecutor(connection).loader.project_state()
    return state.apps.get_model(app_label, model_name)


def test_a_data_migration_renaming_a_bank_refreshes_the_bank_list(api_client):
    # given
    bank = BankFactory(country="NG", name="Access")
    assert post(api_client, BANKS_QUERY)["data"]["banks"] == [{"name": "Access"}]
    # when: what a RunPython(forwards) would do
    HistoricalBank = _historical("accounts", "Bank")
    row = HistoricalBank.objects.get(pk=bank.pk)
    row.name = "Access Bank"
    row.save()
    HistoricalBank.objects.create(name="Zenith", code="057", country="NG")
    # then
    assert Bank.objects.filter(country="NG").count() == 2
    expected = uncached(api_client, BANKS_QUERY)
    assert expected["data"]["banks"] == [{"name": "Access Bank"}, {"name": "Zenith"}]
    assert post(api_client, BANKS_QUERY) == expected
