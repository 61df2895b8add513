"""Writes begin before their SQL and settle after commit: a read after the commit is fresh even when another
commit hook fails, and manual transaction management works."""

import pytest
from django.db import transaction
from django.db.transaction import TransactionManagementError

from core.factories import ErrandFactory
from errands.models import Errand
from tests.core.graphql_cache.oracle import post, uncached

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("cache_backend")]

ERRAND_QUERY = "query One($id: ID!) { errand(id: $id) { id title } }"


class Boom(Exception):
    pass


def _title(client, errand_id):
    return post(client, ERRAND_QUERY, {"id": str(errand_id)})["data"]["errand"]["title"]


def test_a_failing_earlier_on_commit_hook_does_not_leave_stale_data(api_client):
    # given: the errand cached
    errand = ErrandFactory(title="before")
    assert _title(api_client, errand.pk) == "before"

    def notify():  # e.g. a webhook / task enqueue registered by application code before the write
        raise Boom

    # when: a transaction registers a (non-robust) hook, writes, and commits; the hook fails after the commit
    with pytest.raises(Boom), transaction.atomic():
        transaction.on_commit(notify)
        errand.title = "after"
        errand.save()
    # then: the write is committed...
    assert Errand.objects.get(pk=errand.pk).title == "after"
    # ...so every later read must see it
    assert uncached(api_client, ERRAND_QUERY, {"id": str(errand.pk)})["data"]["errand"]["title"] == "after"
    assert _title(api_client, errand.pk) == "after"


def test_a_read_after_the_commit_but_before_the_settle_is_fresh(api_client):
    # given
    errand = ErrandFactory(title="before")
    assert _title(api_client, errand.pk) == "before"
    seen = []

    # when: a hook registered before the write runs after COMMIT and before the cache bump (Django runs hooks in
    # registration order); it stands for any reader that starts right after the commit (another request, a task
    # enqueued on commit...)
    def read_after_commit():
        assert Errand.objects.get(pk=errand.pk).title == "after"  # committed
        seen.append(_title(api_client, errand.pk))

    with transaction.atomic():
        transaction.on_commit(read_after_commit)
        errand.title = "after"
        errand.save()
    # then
    assert seen == ["after"]


def test_a_tracked_write_in_manual_transaction_mode_works():
    # given
    errand = ErrandFactory(title="before")
    # when: Django's documented manual mode (set_autocommit(False)) and an ORM save
    transaction.set_autocommit(False)
    try:
        errand.title = "after"
        try:
            errand.save()
        except TransactionManagementError as error:
            pytest.fail(f"a plain save() failed because of the cache's on_commit: {error}")
        transaction.commit()
    finally:
        transaction.rollback()
        transaction.set_autocommit(True)
