"""Two runners race for one errand: exactly one wins. Needs PostgreSQL's row locks."""

import threading

import pytest
from django.db import connection, transaction

from core.errors import INVALID_TRANSITION, DomainError
from core.factories import ErrandFactory, UserFactory
from errands.models import ErrandStatus
from errands.services import errand_accept
from escrows.models import Escrow

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason=f"row locks (SELECT ... FOR UPDATE) need PostgreSQL; the database is {connection.vendor}",
    ),
    pytest.mark.django_db(transaction=True),
]


def _run_in_thread(target, results, key):
    def run():
        try:
            results[key] = target()
        except DomainError as error:
            results[key] = error.code
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_two_runners_accepting_one_errand_one_wins():
    # given
    errand = ErrandFactory()
    first_runner, second_runner = UserFactory(), UserFactory()
    first_holds_lock = threading.Event()
    results = {}

    def first():
        # Accept, then keep the transaction open until the second runner is already trying.
        with transaction.atomic():
            accepted = errand_accept(errand_id=errand.pk, runner=first_runner)
            first_holds_lock.set()
            second_started.wait(timeout=5)
            threading.Event().wait(0.3)  # let the second runner reach the row lock
        return accepted.runner_id

    second_started = threading.Event()

    def second():
        first_holds_lock.wait(timeout=5)
        second_started.set()
        return errand_accept(errand_id=errand.pk, runner=second_runner).runner_id

    # when
    threads = [_run_in_thread(first, results, "first"), _run_in_thread(second, results, "second")]
    for thread in threads:
        thread.join(timeout=10)

    # then
    assert results == {"first": first_runner.pk, "second": INVALID_TRANSITION}
    errand.refresh_from_db()
    assert (errand.status, errand.runner_id) == (ErrandStatus.ASSIGNED, first_runner.pk)
    assert Escrow.objects.filter(errand=errand).count() == 1


def test_many_runners_racing_produce_exactly_one_acceptance():
    # given
    errand = ErrandFactory()
    runners = UserFactory.create_batch(6)
    start = threading.Barrier(len(runners))
    results = {}

    def accept(runner):
        def run():
            start.wait(timeout=5)
            return errand_accept(errand_id=errand.pk, runner=runner).runner_id

        return run

    # when
    threads = [_run_in_thread(accept(runner), results, runner.pk) for runner in runners]
    for thread in threads:
        thread.join(timeout=10)

    # then
    winners = [key for key, value in results.items() if value == key]
    assert len(winners) == 1
    assert sorted(value for value in results.values() if value != winners[0]) == [INVALID_TRANSITION] * 5
    assert Escrow.objects.filter(errand=errand).count() == 1
