"""After raw SQL, CacheManager.invalidate() inside a transaction marks it as having written and bumps again after
commit: nothing uncommitted is ever cached, and a rollback leaves nothing wrong behind."""

import pytest
from django.db import connection, transaction

from core.cache import CacheManager
from core.factories import ErrandFactory
from tests.core.graphql_cache.oracle import post, uncached

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("cache_backend")]

ERRAND_QUERY = "query One($id: ID!) { errand(id: $id) { id title } }"


def test_raw_write_plus_documented_invalidate_then_rollback_never_leaves_the_uncommitted_row_cached(api_client):
    errand = ErrandFactory(title="before")
    variables = {"id": str(errand.pk)}
    with pytest.raises(RuntimeError), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("UPDATE errands_errand SET title = %s WHERE id = %s", ["uncommitted", errand.pk])
        CacheManager.invalidate("errand:{{id}}", {"id": errand.pk})  # as the docs say
        assert post(api_client, ERRAND_QUERY, variables)["data"]["errand"]["title"] == "uncommitted"
        raise RuntimeError  # rolled back
    assert uncached(api_client, ERRAND_QUERY, variables)["data"]["errand"]["title"] == "before"
    assert post(api_client, ERRAND_QUERY, variables)["data"]["errand"]["title"] == "before"
