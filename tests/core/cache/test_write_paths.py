"""Write paths seen from the cache's public API: update() of known rows and of the whole model, bulk_create, the
relay's backlog and the exit flush of owed outbox rows.

GraphQL answers after these writes: tests/core/graphql_cache/test_bulk_and_delete.py and test_freshness_paths.py.
"""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from core.cache import cache_user_data, get_cached_user_data, outbox
from core.cache.outbox import BATCH
from core.cache.shutdown import flush_owed
from core.cache.store import get_store
from core.factories import ErrandFactory, UserFactory
from core.models import CacheOutbox
from errands.models import Errand
from tests.fixtures.cache import guarded_fill_stores, store_backend, until

pytestmark = pytest.mark.django_db(transaction=True)

ERRAND = "errands.errand"


def test_an_update_of_known_rows_drops_data_cached_under_their_primary_key_families(cache_backend):
    # given: data cached for two users, under `user:<id>`
    updated, other = UserFactory(), UserFactory()
    assert cache_user_data(updated.pk, {"theme": "dark"})
    assert cache_user_data(other.pk, {"theme": "light"})

    # when: an update of one known row
    User.objects.filter(pk=updated.pk).update(first_name="Ada")

    # then: that user's data goes, the other's stays
    assert get_cached_user_data(updated.pk) is None
    assert get_cached_user_data(other.pk) == {"theme": "light"}


def test_a_bulk_create_holds_off_guarded_fills_of_its_model_until_its_commit(cache_backend):
    # given
    creator = UserFactory()

    # when: a bulk_create, whose rows the cache cannot name, inside a transaction
    with transaction.atomic():
        Errand.objects.bulk_create([ErrandFactory.build(created_by=creator) for _ in range(2)])

        # then: until the commit, no fill of the model's rows is stored (it may have read them before the write)
        assert not guarded_fill_stores()
        assert guarded_fill_stores("accounts.bank")  # another model's fills are not held off

    # and after the commit they are stored again
    assert guarded_fill_stores()


def test_cache_relay_once_applies_a_backlog_larger_than_one_pass(cache_backend):
    # given: more due rows than one pass of the relay reads
    created_at = timezone.now() - timedelta(seconds=5)
    CacheOutbox.objects.bulk_create(
        CacheOutbox(created_at=created_at, families=[f"errand:{pk}"], clocks=[ERRAND]) for pk in range(BATCH + 1)
    )
    out = io.StringIO()

    # when
    call_command("cache_relay", "--once", stdout=out)

    # then: all of them, in one command
    assert out.getvalue() == f"Applied {BATCH + 1} outbox rows ({store_backend(cache_backend)}); 0 left.\n"
    assert CacheOutbox.objects.count() == 0


def test_at_exit_an_outbox_row_redis_takes_only_at_a_later_attempt_is_applied(restartable_redis, monkeypatch):
    # given: a write whose settle Redis did not take, Redis back and the store recovered (only the row is owed)
    errand = ErrandFactory(title="before")
    with transaction.atomic():
        errand.title = "after"
        errand.save()
        restartable_redis.stop()
    restartable_redis.start()
    assert until(lambda: get_store().recover())
    assert outbox.owed_rows() and CacheOutbox.objects.count() == 1

    # and Redis that takes it only once a first attempt has failed
    admin = restartable_redis.partition()
    attempts = []
    apply = outbox.apply

    def apply_then_heal(store, row) -> bool:
        attempts.append(apply(store, row))
        admin.config_set("requirepass", "")
        return attempts[-1]

    monkeypatch.setattr(outbox, "apply", apply_then_heal)

    # when
    flush_owed(timeout=30)

    # then: it tried again, and applied and deleted the row
    assert attempts[0] is False and attempts[-1] is True
    assert not outbox.owed_rows()
    assert CacheOutbox.objects.count() == 0
