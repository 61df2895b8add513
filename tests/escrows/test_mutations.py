import pytest

from core.factories import ErrandFactory, UserFactory
from errands.models import ErrandStatus
from escrows.models import EscrowStatus
from tests.fixtures.api import get_graphql_content

pytestmark = pytest.mark.django_db

ESCROW_FIELDS = """
escrow { id reference amount currency status errand { id status } payer { id } payee { id } }
errors { field code message }
"""

FUND_ESCROW_MUTATION = f"""
mutation FundEscrow($errandId: ID!) {{
  fundEscrow(errandId: $errandId) {{ {ESCROW_FIELDS} }}
}}
"""

RELEASE_ESCROW_MUTATION = f"""
mutation ReleaseEscrow($id: ID!) {{
  releaseEscrow(id: $id) {{ {ESCROW_FIELDS} }}
}}
"""

REFUND_ESCROW_MUTATION = f"""
mutation RefundEscrow($id: ID!) {{
  refundEscrow(id: $id) {{ {ESCROW_FIELDS} }}
}}
"""


def _payload(response, name: str) -> dict:
    return get_graphql_content(response)["data"][name]


def _codes(payload: dict) -> list[tuple[str, str | None]]:
    return [(error["code"], error["field"]) for error in payload["errors"]]


def _status(escrow) -> tuple[str, str]:
    escrow.refresh_from_db()
    escrow.errand.refresh_from_db()
    return escrow.status, escrow.errand.status


# --- fundEscrow --------------------------------------------------------------------------------------------


def test_fund_escrow_by_the_payer_starts_the_errand(user_api_client, user):
    # given
    escrow = ErrandFactory(created_by=user, assigned=True).escrow

    # when
    payload = _payload(
        user_api_client.post_graphql(FUND_ESCROW_MUTATION, {"errandId": str(escrow.errand_id)}), "fundEscrow"
    )

    # then
    assert payload["errors"] == []
    assert (payload["escrow"]["status"], payload["escrow"]["errand"]["status"]) == ("FUNDED", "IN_PROGRESS")
    assert _status(escrow) == (EscrowStatus.FUNDED, ErrandStatus.IN_PROGRESS)


def test_fund_escrow_refuses_the_payee(user_api_client, user):
    # given
    escrow = ErrandFactory(runner=user, assigned=True).escrow

    # when
    payload = _payload(
        user_api_client.post_graphql(FUND_ESCROW_MUTATION, {"errandId": str(escrow.errand_id)}), "fundEscrow"
    )

    # then
    assert _codes(payload) == [("FORBIDDEN", None)]
    assert _status(escrow) == (EscrowStatus.PENDING, ErrandStatus.ASSIGNED)


def test_fund_escrow_refuses_an_errand_nobody_accepted(user_api_client, user):
    # given
    errand = ErrandFactory(created_by=user)

    # when
    payload = _payload(user_api_client.post_graphql(FUND_ESCROW_MUTATION, {"errandId": str(errand.pk)}), "fundEscrow")

    # then
    assert _codes(payload) == [("INVALID_TRANSITION", None)]


def test_fund_escrow_refuses_funding_twice(user_api_client, user):
    # given
    escrow = ErrandFactory(created_by=user, in_progress=True).escrow

    # when
    payload = _payload(
        user_api_client.post_graphql(FUND_ESCROW_MUTATION, {"errandId": str(escrow.errand_id)}), "fundEscrow"
    )

    # then
    assert _codes(payload) == [("INVALID_TRANSITION", None)]


def test_fund_escrow_refuses_a_missing_errand(user_api_client):
    # when
    payload = _payload(user_api_client.post_graphql(FUND_ESCROW_MUTATION, {"errandId": "424242"}), "fundEscrow")

    # then
    assert _codes(payload) == [("NOT_FOUND", None)]


def test_fund_escrow_refuses_an_anonymous_caller(api_client):
    # given
    escrow = ErrandFactory(assigned=True).escrow

    # when
    payload = _payload(api_client.post_graphql(FUND_ESCROW_MUTATION, {"errandId": str(escrow.errand_id)}), "fundEscrow")

    # then
    assert _codes(payload) == [("UNAUTHENTICATED", None)]


# --- releaseEscrow -----------------------------------------------------------------------------------------


def test_release_escrow_by_the_payer_pays_the_runner(user_api_client, user):
    # given
    escrow = ErrandFactory(created_by=user, completed=True).escrow

    # when
    payload = _payload(user_api_client.post_graphql(RELEASE_ESCROW_MUTATION, {"id": str(escrow.pk)}), "releaseEscrow")

    # then
    assert payload["errors"] == []
    assert payload["escrow"]["status"] == "RELEASED"
    assert _status(escrow) == (EscrowStatus.RELEASED, ErrandStatus.COMPLETED)


def test_release_escrow_by_staff(staff_api_client):
    # given
    escrow = ErrandFactory(completed=True).escrow

    # when
    payload = _payload(staff_api_client.post_graphql(RELEASE_ESCROW_MUTATION, {"id": str(escrow.pk)}), "releaseEscrow")

    # then
    assert payload["escrow"]["status"] == "RELEASED"


def test_release_escrow_refuses_the_payee(user_api_client, user):
    # given
    escrow = ErrandFactory(runner=user, completed=True).escrow

    # when
    payload = _payload(user_api_client.post_graphql(RELEASE_ESCROW_MUTATION, {"id": str(escrow.pk)}), "releaseEscrow")

    # then
    assert _codes(payload) == [("FORBIDDEN", None)]
    assert _status(escrow) == (EscrowStatus.FUNDED, ErrandStatus.COMPLETED)


def test_release_escrow_of_someone_else_is_not_found(user_api_client):
    # given: a stranger's escrow must look exactly like a missing one
    escrow = ErrandFactory(completed=True).escrow

    # when
    stranger = _payload(user_api_client.post_graphql(RELEASE_ESCROW_MUTATION, {"id": str(escrow.pk)}), "releaseEscrow")
    missing = _payload(user_api_client.post_graphql(RELEASE_ESCROW_MUTATION, {"id": "424242"}), "releaseEscrow")

    # then
    assert _codes(stranger) == _codes(missing) == [("NOT_FOUND", None)]
    assert _status(escrow) == (EscrowStatus.FUNDED, ErrandStatus.COMPLETED)


def test_release_escrow_refuses_an_errand_not_completed(user_api_client, user):
    # given
    escrow = ErrandFactory(created_by=user, in_progress=True).escrow

    # when
    payload = _payload(user_api_client.post_graphql(RELEASE_ESCROW_MUTATION, {"id": str(escrow.pk)}), "releaseEscrow")

    # then
    assert _codes(payload) == [("INVALID_TRANSITION", None)]


def test_release_escrow_happens_once(user_api_client, user):
    # given
    escrow = ErrandFactory(created_by=user, completed=True).escrow
    user_api_client.post_graphql(RELEASE_ESCROW_MUTATION, {"id": str(escrow.pk)})

    # when
    payload = _payload(user_api_client.post_graphql(RELEASE_ESCROW_MUTATION, {"id": str(escrow.pk)}), "releaseEscrow")

    # then
    assert _codes(payload) == [("INVALID_TRANSITION", None)]


def test_release_escrow_refuses_an_anonymous_caller(api_client):
    # given
    escrow = ErrandFactory(completed=True).escrow

    # when
    payload = _payload(api_client.post_graphql(RELEASE_ESCROW_MUTATION, {"id": str(escrow.pk)}), "releaseEscrow")

    # then
    assert _codes(payload) == [("UNAUTHENTICATED", None)]


# --- refundEscrow ------------------------------------------------------------------------------------------


def test_refund_escrow_by_the_payee_cancels_the_errand(user_api_client, user):
    # given
    escrow = ErrandFactory(runner=user, in_progress=True).escrow

    # when
    payload = _payload(user_api_client.post_graphql(REFUND_ESCROW_MUTATION, {"id": str(escrow.pk)}), "refundEscrow")

    # then
    assert payload["errors"] == []
    assert (payload["escrow"]["status"], payload["escrow"]["errand"]["status"]) == ("REFUNDED", "CANCELLED")
    assert _status(escrow) == (EscrowStatus.REFUNDED, ErrandStatus.CANCELLED)


def test_refund_escrow_by_staff(staff_api_client):
    # given
    escrow = ErrandFactory(in_progress=True).escrow

    # when
    payload = _payload(staff_api_client.post_graphql(REFUND_ESCROW_MUTATION, {"id": str(escrow.pk)}), "refundEscrow")

    # then
    assert payload["escrow"]["status"] == "REFUNDED"


def test_refund_escrow_refuses_the_payer(user_api_client, user):
    # given
    escrow = ErrandFactory(created_by=user, in_progress=True).escrow

    # when
    payload = _payload(user_api_client.post_graphql(REFUND_ESCROW_MUTATION, {"id": str(escrow.pk)}), "refundEscrow")

    # then
    assert _codes(payload) == [("FORBIDDEN", None)]
    assert _status(escrow) == (EscrowStatus.FUNDED, ErrandStatus.IN_PROGRESS)


def test_refund_escrow_of_someone_else_is_not_found(user_api_client):
    # given
    escrow = ErrandFactory(in_progress=True).escrow

    # when
    payload = _payload(user_api_client.post_graphql(REFUND_ESCROW_MUTATION, {"id": str(escrow.pk)}), "refundEscrow")

    # then
    assert _codes(payload) == [("NOT_FOUND", None)]


@pytest.mark.parametrize("trait", ["assigned", "paid", "refunded"])
def test_refund_escrow_refuses_an_escrow_that_is_not_funded(user_api_client, user, trait):
    # given
    escrow = ErrandFactory(runner=user, **{trait: True}).escrow

    # when
    payload = _payload(user_api_client.post_graphql(REFUND_ESCROW_MUTATION, {"id": str(escrow.pk)}), "refundEscrow")

    # then
    assert _codes(payload) == [("INVALID_TRANSITION", None)]


def test_refund_escrow_refuses_an_anonymous_caller(api_client):
    # given
    escrow = ErrandFactory(in_progress=True).escrow

    # when
    payload = _payload(api_client.post_graphql(REFUND_ESCROW_MUTATION, {"id": str(escrow.pk)}), "refundEscrow")

    # then
    assert _codes(payload) == [("UNAUTHENTICATED", None)]


# --- the whole lifecycle -----------------------------------------------------------------------------------

CREATE_ERRAND_MUTATION = """
mutation { createErrand(input: {title: "Buy bread", description: "Two loaves", category: "groceries",
  budget: "800", pickupAddress: "Market", dropoffAddress: "Home"}) { errand { id } errors { code } } }
"""

ACCEPT_ERRAND_MUTATION = """
mutation Accept($id: ID!) { acceptErrand(id: $id) { errand { status } errors { code } } }
"""

COMPLETE_ERRAND_MUTATION = """
mutation Complete($id: ID!) { completeErrand(id: $id) { errand { status } errors { code } } }
"""

MY_ESCROWS_QUERY = """
query { myEscrows { id status amount } }
"""


def test_an_errand_goes_from_posted_to_paid(api_client_for):
    # given
    customer, runner = UserFactory(), UserFactory()
    as_customer, as_runner = api_client_for(customer), api_client_for(runner)

    # when
    errand_id = _payload(as_customer.post_graphql(CREATE_ERRAND_MUTATION), "createErrand")["errand"]["id"]
    accepted = _payload(as_runner.post_graphql(ACCEPT_ERRAND_MUTATION, {"id": errand_id}), "acceptErrand")
    funded = _payload(as_customer.post_graphql(FUND_ESCROW_MUTATION, {"errandId": errand_id}), "fundEscrow")
    completed = _payload(as_runner.post_graphql(COMPLETE_ERRAND_MUTATION, {"id": errand_id}), "completeErrand")
    escrow_id = funded["escrow"]["id"]
    released = _payload(as_customer.post_graphql(RELEASE_ESCROW_MUTATION, {"id": escrow_id}), "releaseEscrow")

    # then
    assert accepted["errand"]["status"] == "ASSIGNED"
    assert funded["escrow"]["status"] == "FUNDED"
    assert completed["errand"]["status"] == "COMPLETED"
    assert released["escrow"]["status"] == "RELEASED"
    runner_view = get_graphql_content(as_runner.post_graphql(MY_ESCROWS_QUERY))["data"]["myEscrows"]
    assert runner_view == [{"id": escrow_id, "status": "RELEASED", "amount": "800.00"}]
