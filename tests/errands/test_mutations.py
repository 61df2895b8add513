from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from core.factories import ErrandFactory
from errands.models import Errand, ErrandStatus
from escrows.models import Escrow, EscrowStatus
from tests.fixtures.api import get_graphql_content

pytestmark = pytest.mark.django_db

ERRAND_FIELDS = """
errand { id title description category status budget currency pickupAddress dropoffAddress deadline
         createdBy { id } runner { id } }
errors { field code message }
"""

CREATE_ERRAND_MUTATION = f"""
mutation CreateErrand($input: CreateErrandInput!) {{
  createErrand(input: $input) {{ {ERRAND_FIELDS} }}
}}
"""

UPDATE_ERRAND_MUTATION = f"""
mutation UpdateErrand($id: ID!, $input: UpdateErrandInput!) {{
  updateErrand(id: $id, input: $input) {{ {ERRAND_FIELDS} }}
}}
"""

ACCEPT_ERRAND_MUTATION = f"""
mutation AcceptErrand($id: ID!) {{
  acceptErrand(id: $id) {{ {ERRAND_FIELDS} }}
}}
"""

COMPLETE_ERRAND_MUTATION = f"""
mutation CompleteErrand($id: ID!) {{
  completeErrand(id: $id) {{ {ERRAND_FIELDS} }}
}}
"""

CANCEL_ERRAND_MUTATION = f"""
mutation CancelErrand($id: ID!) {{
  cancelErrand(id: $id) {{ {ERRAND_FIELDS} }}
}}
"""


def _input(**overrides) -> dict:
    return {
        "title": "Pick up my prescription",
        "description": "Paid already; bring the receipt.",
        "category": "pharmacy",
        "budget": "1500.50",
        "pickupAddress": "12 Allen Avenue, Ikeja",
        "dropoffAddress": "3 Bode Thomas, Surulere",
        **overrides,
    }


def _payload(response, name: str) -> dict:
    return get_graphql_content(response)["data"][name]


def _codes(payload: dict) -> list[tuple[str, str | None]]:
    return [(error["code"], error["field"]) for error in payload["errors"]]


# --- createErrand ------------------------------------------------------------------------------------------


def test_create_errand_posts_an_open_errand_for_the_viewer(user_api_client, user):
    # given
    deadline = (timezone.now() + timedelta(days=2)).isoformat()

    # when
    payload = _payload(
        user_api_client.post_graphql(CREATE_ERRAND_MUTATION, {"input": _input(deadline=deadline)}), "createErrand"
    )

    # then
    assert payload["errors"] == []
    errand = payload["errand"]
    assert (errand["status"], errand["budget"], errand["currency"]) == ("OPEN", "1500.50", "NGN")
    assert errand["createdBy"] == {"id": str(user.pk)}
    assert errand["runner"] is None
    stored = Errand.objects.get(pk=errand["id"])
    assert (stored.budget, stored.created_by, stored.deadline.isoformat()) == (Decimal("1500.50"), user, deadline)


def test_create_errand_takes_a_currency(user_api_client):
    # when
    payload = _payload(
        user_api_client.post_graphql(CREATE_ERRAND_MUTATION, {"input": _input(currency="KES")}), "createErrand"
    )

    # then
    assert payload["errand"]["currency"] == "KES"


def test_create_errand_accepts_the_maximum_budget(user_api_client):
    # when
    payload = _payload(
        user_api_client.post_graphql(CREATE_ERRAND_MUTATION, {"input": _input(budget="10000000")}), "createErrand"
    )

    # then
    assert payload["errors"] == []
    assert payload["errand"]["budget"] == "10000000.00"


def test_create_errand_refuses_an_anonymous_caller(api_client):
    # when
    payload = _payload(api_client.post_graphql(CREATE_ERRAND_MUTATION, {"input": _input()}), "createErrand")

    # then
    assert payload["errand"] is None
    assert _codes(payload) == [("UNAUTHENTICATED", None)]
    assert not Errand.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"budget": "0"}, "budget"),
        ({"budget": "-5"}, "budget"),
        ({"budget": "10000000.01"}, "budget"),
        ({"budget": "12.345"}, "budget"),
        ({"budget": "NaN"}, "budget"),
        ({"currency": "EUR"}, "currency"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"category": ""}, "category"),
        ({"pickupAddress": ""}, "pickupAddress"),
        ({"deadline": "2001-01-01T00:00:00+00:00"}, "deadline"),
    ],
    ids=[
        "zero-budget",
        "negative-budget",
        "budget-over-max",
        "budget-sub-cent",
        "budget-nan",
        "unknown-currency",
        "blank-title",
        "long-title",
        "blank-category",
        "blank-pickup",
        "past-deadline",
    ],
)
def test_create_errand_refuses_invalid_input_naming_the_field(user_api_client, overrides, field):
    # when
    payload = _payload(
        user_api_client.post_graphql(CREATE_ERRAND_MUTATION, {"input": _input(**overrides)}), "createErrand"
    )

    # then
    assert payload["errand"] is None
    assert _codes(payload) == [("INVALID", field)]
    assert not Errand.objects.exists()


def test_create_errand_reports_every_invalid_field_at_once(user_api_client):
    # when
    payload = _payload(
        user_api_client.post_graphql(CREATE_ERRAND_MUTATION, {"input": _input(budget="0", currency="EUR", title="")}),
        "createErrand",
    )

    # then
    assert {field for _, field in _codes(payload)} == {"budget", "currency", "title"}


# --- updateErrand ------------------------------------------------------------------------------------------


def test_update_errand_changes_the_given_fields_only(user_api_client, user):
    # given
    errand = ErrandFactory(created_by=user, title="Old title", category="laundry")

    # when
    payload = _payload(
        user_api_client.post_graphql(
            UPDATE_ERRAND_MUTATION, {"id": str(errand.pk), "input": {"title": "New title", "budget": "2500"}}
        ),
        "updateErrand",
    )

    # then
    assert payload["errors"] == []
    assert (payload["errand"]["title"], payload["errand"]["budget"]) == ("New title", "2500.00")
    errand.refresh_from_db()
    assert (errand.title, errand.budget, errand.category) == ("New title", Decimal("2500.00"), "laundry")


def test_update_errand_clears_the_deadline_with_null(user_api_client, user):
    # given
    errand = ErrandFactory(created_by=user)

    # when
    payload = _payload(
        user_api_client.post_graphql(UPDATE_ERRAND_MUTATION, {"id": str(errand.pk), "input": {"deadline": None}}),
        "updateErrand",
    )

    # then
    assert payload["errand"]["deadline"] is None
    errand.refresh_from_db()
    assert errand.deadline is None


@pytest.mark.parametrize(
    ("errand_input", "field"),
    [({"title": None}, "title"), ({"budget": "0"}, "budget"), ({"budget": "10000001"}, "budget")],
    ids=["null-title", "zero-budget", "budget-over-max"],
)
def test_update_errand_refuses_invalid_input(user_api_client, user, errand_input, field):
    # given
    errand = ErrandFactory(created_by=user, title="Kept")

    # when
    payload = _payload(
        user_api_client.post_graphql(UPDATE_ERRAND_MUTATION, {"id": str(errand.pk), "input": errand_input}),
        "updateErrand",
    )

    # then
    assert _codes(payload) == [("INVALID", field)]
    errand.refresh_from_db()
    assert errand.title == "Kept"


def test_update_errand_refuses_someone_else(user_api_client):
    # given
    errand = ErrandFactory(title="Kept")

    # when
    payload = _payload(
        user_api_client.post_graphql(UPDATE_ERRAND_MUTATION, {"id": str(errand.pk), "input": {"title": "Mine now"}}),
        "updateErrand",
    )

    # then
    assert _codes(payload) == [("FORBIDDEN", None)]
    errand.refresh_from_db()
    assert errand.title == "Kept"


def test_update_errand_refuses_an_errand_that_is_no_longer_open(user_api_client, user):
    # given
    errand = ErrandFactory(created_by=user, assigned=True)

    # when
    payload = _payload(
        user_api_client.post_graphql(UPDATE_ERRAND_MUTATION, {"id": str(errand.pk), "input": {"budget": "1"}}),
        "updateErrand",
    )

    # then
    assert _codes(payload) == [("INVALID_TRANSITION", None)]


def test_update_errand_refuses_a_missing_errand(user_api_client):
    # when
    payload = _payload(
        user_api_client.post_graphql(UPDATE_ERRAND_MUTATION, {"id": "424242", "input": {"title": "x"}}), "updateErrand"
    )

    # then
    assert _codes(payload) == [("NOT_FOUND", None)]


def test_update_errand_refuses_an_anonymous_caller(api_client):
    # given
    errand = ErrandFactory()

    # when
    payload = _payload(
        api_client.post_graphql(UPDATE_ERRAND_MUTATION, {"id": str(errand.pk), "input": {"title": "x"}}), "updateErrand"
    )

    # then
    assert _codes(payload) == [("UNAUTHENTICATED", None)]


# --- acceptErrand ------------------------------------------------------------------------------------------


def test_accept_errand_assigns_the_viewer_and_opens_a_pending_escrow(user_api_client, user):
    # given
    errand = ErrandFactory(budget=Decimal("4200.00"), currency="GHS")

    # when
    payload = _payload(user_api_client.post_graphql(ACCEPT_ERRAND_MUTATION, {"id": str(errand.pk)}), "acceptErrand")

    # then
    assert payload["errors"] == []
    assert (payload["errand"]["status"], payload["errand"]["runner"]) == ("ASSIGNED", {"id": str(user.pk)})
    escrow = Escrow.objects.get(errand=errand)
    assert (escrow.status, escrow.amount, escrow.currency) == (EscrowStatus.PENDING, Decimal("4200.00"), "GHS")
    assert (escrow.payer, escrow.payee) == (errand.created_by, user)


def test_accept_errand_refuses_the_creator(user_api_client, user):
    # given
    errand = ErrandFactory(created_by=user)

    # when
    payload = _payload(user_api_client.post_graphql(ACCEPT_ERRAND_MUTATION, {"id": str(errand.pk)}), "acceptErrand")

    # then
    assert _codes(payload) == [("FORBIDDEN", None)]
    errand.refresh_from_db()
    assert (errand.status, errand.runner) == (ErrandStatus.OPEN, None)


@pytest.mark.parametrize("trait", ["assigned", "in_progress", "completed", "cancelled"])
def test_accept_errand_refuses_an_errand_that_is_not_open(user_api_client, trait):
    # given
    errand = ErrandFactory(**{trait: True})

    # when
    payload = _payload(user_api_client.post_graphql(ACCEPT_ERRAND_MUTATION, {"id": str(errand.pk)}), "acceptErrand")

    # then
    assert _codes(payload) == [("INVALID_TRANSITION", None)]
    assert Escrow.objects.filter(errand=errand).count() == (0 if trait == "cancelled" else 1)


@pytest.mark.parametrize("missing_id", ["424242", "abc"])
def test_accept_errand_refuses_a_missing_errand(user_api_client, missing_id):
    # when
    payload = _payload(user_api_client.post_graphql(ACCEPT_ERRAND_MUTATION, {"id": missing_id}), "acceptErrand")

    # then
    assert _codes(payload) == [("NOT_FOUND", None)]


def test_accept_errand_refuses_an_anonymous_caller(api_client):
    # given
    errand = ErrandFactory()

    # when
    payload = _payload(api_client.post_graphql(ACCEPT_ERRAND_MUTATION, {"id": str(errand.pk)}), "acceptErrand")

    # then
    assert _codes(payload) == [("UNAUTHENTICATED", None)]


# --- completeErrand ----------------------------------------------------------------------------------------


def test_complete_errand_by_the_runner(user_api_client, user):
    # given
    errand = ErrandFactory(runner=user, in_progress=True)

    # when
    payload = _payload(user_api_client.post_graphql(COMPLETE_ERRAND_MUTATION, {"id": str(errand.pk)}), "completeErrand")

    # then
    assert payload["errors"] == []
    assert payload["errand"]["status"] == "COMPLETED"
    errand.refresh_from_db()
    assert errand.status == ErrandStatus.COMPLETED


def test_complete_errand_refuses_the_creator(user_api_client, user):
    # given
    errand = ErrandFactory(created_by=user, in_progress=True)

    # when
    payload = _payload(user_api_client.post_graphql(COMPLETE_ERRAND_MUTATION, {"id": str(errand.pk)}), "completeErrand")

    # then
    assert _codes(payload) == [("FORBIDDEN", None)]


def test_complete_errand_refuses_an_errand_not_in_progress(user_api_client, user):
    # given: accepted but not funded yet
    errand = ErrandFactory(runner=user, assigned=True)

    # when
    payload = _payload(user_api_client.post_graphql(COMPLETE_ERRAND_MUTATION, {"id": str(errand.pk)}), "completeErrand")

    # then
    assert _codes(payload) == [("INVALID_TRANSITION", None)]


def test_complete_errand_refuses_a_missing_errand(user_api_client):
    # when
    payload = _payload(user_api_client.post_graphql(COMPLETE_ERRAND_MUTATION, {"id": "424242"}), "completeErrand")

    # then
    assert _codes(payload) == [("NOT_FOUND", None)]


def test_complete_errand_refuses_an_anonymous_caller(api_client):
    # given
    errand = ErrandFactory(in_progress=True)

    # when
    payload = _payload(api_client.post_graphql(COMPLETE_ERRAND_MUTATION, {"id": str(errand.pk)}), "completeErrand")

    # then
    assert _codes(payload) == [("UNAUTHENTICATED", None)]


# --- cancelErrand ------------------------------------------------------------------------------------------


def test_cancel_errand_cancels_an_open_errand(user_api_client, user):
    # given
    errand = ErrandFactory(created_by=user)

    # when
    payload = _payload(user_api_client.post_graphql(CANCEL_ERRAND_MUTATION, {"id": str(errand.pk)}), "cancelErrand")

    # then
    assert payload["errors"] == []
    assert payload["errand"]["status"] == "CANCELLED"


def test_cancel_errand_refunds_a_pending_escrow(user_api_client, user):
    # given
    errand = ErrandFactory(created_by=user, assigned=True)

    # when
    payload = _payload(user_api_client.post_graphql(CANCEL_ERRAND_MUTATION, {"id": str(errand.pk)}), "cancelErrand")

    # then
    assert payload["errand"]["status"] == "CANCELLED"
    assert Escrow.objects.get(errand=errand).status == EscrowStatus.REFUNDED


def test_cancel_errand_refuses_the_runner(user_api_client, user):
    # given
    errand = ErrandFactory(runner=user, assigned=True)

    # when
    payload = _payload(user_api_client.post_graphql(CANCEL_ERRAND_MUTATION, {"id": str(errand.pk)}), "cancelErrand")

    # then
    assert _codes(payload) == [("FORBIDDEN", None)]
    assert Escrow.objects.get(errand=errand).status == EscrowStatus.PENDING


@pytest.mark.parametrize("trait", ["in_progress", "completed", "cancelled"])
def test_cancel_errand_refuses_an_errand_past_assignment(user_api_client, user, trait):
    # given
    errand = ErrandFactory(created_by=user, **{trait: True})

    # when
    payload = _payload(user_api_client.post_graphql(CANCEL_ERRAND_MUTATION, {"id": str(errand.pk)}), "cancelErrand")

    # then
    assert _codes(payload) == [("INVALID_TRANSITION", None)]


def test_cancel_errand_refuses_a_missing_errand(user_api_client):
    # when
    payload = _payload(user_api_client.post_graphql(CANCEL_ERRAND_MUTATION, {"id": "424242"}), "cancelErrand")

    # then
    assert _codes(payload) == [("NOT_FOUND", None)]


def test_cancel_errand_refuses_an_anonymous_caller(api_client):
    # given
    errand = ErrandFactory()

    # when
    payload = _payload(api_client.post_graphql(CANCEL_ERRAND_MUTATION, {"id": str(errand.pk)}), "cancelErrand")

    # then
    assert _codes(payload) == [("UNAUTHENTICATED", None)]
    errand.refresh_from_db()
    assert errand.status == ErrandStatus.OPEN
