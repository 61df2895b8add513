"""A release (or refund) never happens twice, even when two requests race. Needs PostgreSQL's row locks."""

import threading

import pytest
from django.db import connection, transaction

from core.errors import INVALID_TRANSITION, DomainError
from core.factories import ErrandFactory, StaffUserFactory
from escrows.models import Escrow, EscrowStatus
from escrows.services import escrow_refund, escrow_release

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason=f"row locks (SELECT ... FOR UPDATE) need PostgreSQL; the database is {connection.vendor}",
    ),
    pytest.mark.django_db(transaction=True),
]


def _race(first_action, second_action) -> dict:
    """Run first_action inside a transaction that stays open until second_action is already trying."""
    first_done, second_started = threading.Event(), threading.Event()
    results = {}

    def run(key, body):
        try:
            results[key] = body()
        except DomainError as error:
            results[key] = error.code
        finally:
            connection.close()

    def first():
        with transaction.atomic():
            status = first_action().status
            first_done.set()
            second_started.wait(timeout=5)
            threading.Event().wait(0.3)  # let the second request reach the row lock
        return status

    def second():
        first_done.wait(timeout=5)
        second_started.set()
        return second_action().status

    threads = [
        threading.Thread(target=run, args=("first", first)),
        threading.Thread(target=run, args=("second", second)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    return results


def test_a_double_release_is_impossible():
    # given: the payer and a staff member release the same escrow at once
    escrow = ErrandFactory(completed=True).escrow
    staff = StaffUserFactory()

    # when
    results = _race(
        lambda: escrow_release(escrow_id=escrow.pk, user=escrow.payer),
        lambda: escrow_release(escrow_id=escrow.pk, user=staff),
    )

    # then
    assert results == {"first": EscrowStatus.RELEASED, "second": INVALID_TRANSITION}
    assert Escrow.objects.get(pk=escrow.pk).status == EscrowStatus.RELEASED


def test_a_release_and_a_refund_racing_leave_one_outcome():
    # given
    escrow = ErrandFactory(completed=True).escrow

    # when
    results = _race(
        lambda: escrow_release(escrow_id=escrow.pk, user=escrow.payer),
        lambda: escrow_refund(escrow_id=escrow.pk, user=escrow.payee),
    )

    # then
    assert results == {"first": EscrowStatus.RELEASED, "second": INVALID_TRANSITION}
    assert Escrow.objects.get(pk=escrow.pk).status == EscrowStatus.RELEASED
