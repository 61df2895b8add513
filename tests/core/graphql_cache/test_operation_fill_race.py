"""An invalidation that names no model (CacheManager.invalidate, @invalidate_cache, invalidate_user_cache)
landing while a whole-response fill runs: the fill must not be stored (the manual clock guards it)."""

import pytest
from django.db import connection

from core.cache import CacheManager
from core.factories import ErrandFactory, UserFactory
from errands import schema as errand_schema
from tests.core.graphql_cache.oracle import post, uncached

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("cache_backend")]

BOARD_QUERY = "query Board { errands(first: 10) { id title } }"
ERRAND_QUERY = "query One($id: ID!) { errand(id: $id) { id title } }"
MY_ERRANDS_QUERY = "query Mine { myErrands { id title } }"


def _raw_title(errand_id: int, title: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("UPDATE errands_errand SET title = %s WHERE id = %s", [title, errand_id])


def test_family_invalidation_during_an_operation_fill_is_kept(api_client, monkeypatch):
    # given: the resolver reads the rows, then a raw-SQL write commits and is invalidated as the docs ask
    errand = ErrandFactory(title="before")
    real = errand_schema.errand_list

    def read_then_write(**kwargs):
        rows = real(**kwargs)
        _raw_title(errand.pk, "raw")
        CacheManager.invalidate("errand_list:*")
        return rows

    monkeypatch.setattr(errand_schema, "errand_list", read_then_write)
    assert post(api_client, BOARD_QUERY)["data"]["errands"][0]["title"] == "before"  # what the racing read saw
    monkeypatch.setattr(errand_schema, "errand_list", real)
    # when: a read that starts after the write and its invalidation
    cached = post(api_client, BOARD_QUERY)
    # then
    assert uncached(api_client, BOARD_QUERY)["data"]["errands"][0]["title"] == "raw"
    assert cached["data"]["errands"][0]["title"] == "raw"


def test_exact_key_invalidation_during_an_operation_fill_is_kept(api_client, monkeypatch):
    errand = ErrandFactory(title="before")
    real = errand_schema.errand_get

    def read_then_write(**kwargs):
        row = real(**kwargs)
        _raw_title(errand.pk, "raw")
        CacheManager.invalidate("errand:{{id}}", {"id": errand.pk})
        return row

    monkeypatch.setattr(errand_schema, "errand_get", read_then_write)
    post(api_client, ERRAND_QUERY, {"id": str(errand.pk)})
    monkeypatch.setattr(errand_schema, "errand_get", real)
    cached = post(api_client, ERRAND_QUERY, {"id": str(errand.pk)})
    assert cached["data"]["errand"]["title"] == "raw"


def test_invalidate_user_cache_during_an_operation_fill_is_kept(api_client_for, monkeypatch):
    from core.cache_utils import invalidate_user_cache

    owner = UserFactory()
    errand = ErrandFactory(title="before", created_by=owner)
    client = api_client_for(owner)
    real = errand_schema.errand_list_for_user

    def read_then_write(**kwargs):
        rows = real(**kwargs)
        _raw_title(errand.pk, "raw")
        invalidate_user_cache(owner.pk)
        return rows

    monkeypatch.setattr(errand_schema, "errand_list_for_user", read_then_write)
    post(client, MY_ERRANDS_QUERY)
    monkeypatch.setattr(errand_schema, "errand_list_for_user", real)
    cached = post(client, MY_ERRANDS_QUERY)
    assert cached["data"]["myErrands"][0]["title"] == "raw"


def test_the_field_entry_alone_is_kept_fresh(api_client, monkeypatch):
    """Same race without the operation fast path (`__typename` at the root disables it)."""
    query = "{ __typename errands(first: 10) { id title } }"
    errand = ErrandFactory(title="before")
    real = errand_schema.errand_list

    def read_then_write(**kwargs):
        rows = real(**kwargs)
        _raw_title(errand.pk, "raw")
        CacheManager.invalidate("errand_list:*")
        return rows

    monkeypatch.setattr(errand_schema, "errand_list", read_then_write)
    post(api_client, query)
    monkeypatch.setattr(errand_schema, "errand_list", real)
    assert post(api_client, query)["data"]["errands"][0]["title"] == "raw"
