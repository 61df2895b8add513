"""No fill happens inside a transaction: under snapshot isolation it could compute from a snapshot older than a
committed write. PostgreSQL only: the test SQLite database locks tables instead of keeping snapshots."""

import threading

import pytest
from django.db import connection, transaction

from core.factories import ErrandFactory
from errands.models import Errand
from tests.core.graphql_cache.oracle import post, uncached

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs snapshot isolation (PostgreSQL)"),
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("cache_backend"),
]

ERRAND_QUERY = "query One($id: ID!) { errand(id: $id) { id title } }"


def _write_in_another_connection(errand_id: int, title: str) -> None:
    def run():
        try:
            row = Errand.objects.get(pk=errand_id)
            row.title = title
            row.save()  # autocommit: committed, then bumped at once
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()


def test_a_read_only_snapshot_transaction_caches_nothing_older_than_a_committed_write(api_client):
    errand = ErrandFactory(title="before")
    variables = {"id": str(errand.pk)}
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        assert Errand.objects.get(pk=errand.pk).title == "before"  # the snapshot is taken here
        _write_in_another_connection(errand.pk, "after")  # committed and bumped
        # a read that starts after the commit, inside a transaction that has written nothing
        post(api_client, ERRAND_QUERY, variables)
    # then: everyone else must see the committed write
    assert uncached(api_client, ERRAND_QUERY, variables)["data"]["errand"]["title"] == "after"
    assert post(api_client, ERRAND_QUERY, variables)["data"]["errand"]["title"] == "after"


def _read_in_another_connection(client, variables) -> str:
    seen = {}

    def run():
        try:
            seen["title"] = post(client, ERRAND_QUERY, variables)["data"]["errand"]["title"]
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return seen["title"]


def test_the_raw_sql_remedy_is_transaction_aware(api_client):
    """CacheManager.invalidate() after raw SQL inside transaction.atomic(): a reader on another connection between
    the invalidation and COMMIT must not leave an entry of the pre-commit row that outlives the commit."""
    from core.cache import CacheManager

    errand = ErrandFactory(title="before")
    variables = {"id": str(errand.pk)}
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("UPDATE errands_errand SET title = %s WHERE id = %s", ["raw", errand.pk])
        CacheManager.invalidate("errand:{{id}}", {"id": errand.pk})
        assert _read_in_another_connection(api_client, variables) == "before"  # not committed yet: correct
    # then: committed
    assert uncached(api_client, ERRAND_QUERY, variables)["data"]["errand"]["title"] == "raw"
    assert post(api_client, ERRAND_QUERY, variables)["data"]["errand"]["title"] == "raw"
