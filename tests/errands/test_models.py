"""Database constraints that protect money hold even when the services are bypassed."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from core.factories import ErrandFactory, UserFactory
from errands.models import Errand, ErrandStatus

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("budget", [Decimal("0"), Decimal("-1"), Decimal("10000000.01")])
def test_the_database_refuses_a_budget_out_of_range(budget):
    # when / then
    with pytest.raises(IntegrityError), transaction.atomic():
        ErrandFactory(budget=budget)


def test_the_database_accepts_the_budget_bounds():
    # when
    ErrandFactory(budget=Decimal("0.01"))
    ErrandFactory(budget=Decimal("10000000"))

    # then
    assert Errand.objects.count() == 2


def test_the_database_refuses_a_creator_running_their_own_errand():
    # given
    user = UserFactory()

    # when / then
    with pytest.raises(IntegrityError), transaction.atomic():
        ErrandFactory(created_by=user, runner=user, status=ErrandStatus.ASSIGNED)


def test_the_database_refuses_an_assigned_errand_without_a_runner():
    # when / then
    with pytest.raises(IntegrityError), transaction.atomic():
        ErrandFactory(status=ErrandStatus.ASSIGNED, runner=None)


def test_the_database_refuses_an_unknown_status_or_currency():
    # when / then
    with pytest.raises(IntegrityError), transaction.atomic():
        ErrandFactory(status="LOST")
    with pytest.raises(IntegrityError), transaction.atomic():
        ErrandFactory(currency="EUR")
