"""A write during an outage from a process that then exits, and a Redis that comes back with its saved data:
the next process sees the new run_id and bumps the epoch."""

import pytest
from django.db import connection

from core.cache.store import reset_store
from core.factories import ErrandFactory
from tests.core.graphql_cache.oracle import post, uncached

pytestmark = [pytest.mark.django_db(transaction=True)]

ERRAND_QUERY = "query One($id: ID!) { errand(id: $id) { id title } }"


def test_a_write_lost_in_an_outage_by_a_process_that_exits_is_not_served_stale(restartable_redis, api_client):
    # given
    errand = ErrandFactory(title="before")
    variables = {"id": str(errand.pk)}
    assert post(api_client, ERRAND_QUERY, variables)["data"]["errand"]["title"] == "before"
    # when: Redis goes away, a write commits (e.g. `manage.py shell`, a cron command) and that process exits
    restartable_redis.stop()
    errand.title = "after"
    errand.save()
    reset_store()  # the process is gone: its memory of the lost bump with it
    restartable_redis.start()  # Redis comes back with what it had saved
    connection.close()
    # then: a fresh process reading after the commit
    assert uncached(api_client, ERRAND_QUERY, variables)["data"]["errand"]["title"] == "after"
    assert post(api_client, ERRAND_QUERY, variables)["data"]["errand"]["title"] == "after"
