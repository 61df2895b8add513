import pytest

from core.factories import ErrandFactory, EscrowFactory, UserFactory
from tests.fixtures.api import get_graphql_content, get_graphql_errors

pytestmark = pytest.mark.django_db

MY_ESCROWS_QUERY = """
query MyEscrows($status: EscrowStatus, $first: Int, $offset: Int) {
  myEscrows(status: $status, first: $first, offset: $offset) {
    id
    reference
    amount
    currency
    status
    createdAt
    updatedAt
    errand { id title status createdBy { username } runner { username } }
    payer { id username }
    payee { id username }
  }
}
"""

ERRAND_ESCROW_QUERY = """
query ErrandEscrow($id: ID!) { errand(id: $id) { escrow { amount } } }
"""


def _ids(escrows) -> set[int]:
    return {int(escrow["id"]) for escrow in escrows}


def test_my_escrows_lists_those_the_viewer_pays_or_receives(user_api_client, user, django_assert_num_queries):
    # given
    paying = [ErrandFactory(created_by=user, assigned=True).escrow for _ in range(3)]
    receiving = [ErrandFactory(runner=user, in_progress=True).escrow for _ in range(3)]
    ErrandFactory.create_batch(3, paid=True)

    # when: one query authenticates the token, one lists escrows with errand, its people, payer and payee
    with django_assert_num_queries(2):
        content = get_graphql_content(user_api_client.post_graphql(MY_ESCROWS_QUERY))

    # then
    escrows = content["data"]["myEscrows"]
    assert _ids(escrows) == {escrow.pk for escrow in paying + receiving}
    first = next(escrow for escrow in escrows if int(escrow["id"]) == paying[0].pk)
    assert first["payer"] == {"id": str(user.pk), "username": user.username}
    assert first["amount"] == str(paying[0].amount)
    assert first["errand"]["createdBy"] == {"username": user.username}


def test_my_escrows_never_shows_another_users_escrow(api_client_for):
    # given
    escrow = ErrandFactory(in_progress=True).escrow
    stranger = UserFactory()

    # when
    stranger_view = get_graphql_content(api_client_for(stranger).post_graphql(MY_ESCROWS_QUERY))
    payer_view = get_graphql_content(api_client_for(escrow.payer).post_graphql(MY_ESCROWS_QUERY))

    # then
    assert stranger_view["data"]["myEscrows"] == []
    assert _ids(payer_view["data"]["myEscrows"]) == {escrow.pk}


def test_my_escrows_filters_by_status(user_api_client, user):
    # given
    ErrandFactory(created_by=user, assigned=True)
    funded = ErrandFactory(created_by=user, in_progress=True).escrow

    # when
    content = get_graphql_content(user_api_client.post_graphql(MY_ESCROWS_QUERY, {"status": "FUNDED"}))

    # then
    assert _ids(content["data"]["myEscrows"]) == {funded.pk}
    assert content["data"]["myEscrows"][0]["status"] == "FUNDED"


def test_my_escrows_pages_newest_first_with_first_and_offset(user_api_client, user):
    # given: created one after another, so the newest is the last made
    escrows = [EscrowFactory(errand__created_by=user) for _ in range(5)][::-1]

    # when
    content = get_graphql_content(user_api_client.post_graphql(MY_ESCROWS_QUERY, {"first": 2, "offset": 1}))

    # then
    assert [int(e["id"]) for e in content["data"]["myEscrows"]] == [escrows[1].pk, escrows[2].pk]


def test_my_escrows_returns_fifty_by_default_and_caps_first_at_one_hundred(
    user_api_client, user, django_assert_num_queries
):
    # given: more of the viewer's escrows than the cap
    for _ in range(105):
        EscrowFactory(errand__created_by=user)

    # when
    default_page = get_graphql_content(user_api_client.post_graphql(MY_ESCROWS_QUERY))
    with django_assert_num_queries(2):
        capped = get_graphql_content(user_api_client.post_graphql(MY_ESCROWS_QUERY, {"first": 500}))
    last_page = get_graphql_content(user_api_client.post_graphql(MY_ESCROWS_QUERY, {"first": 100, "offset": 100}))

    # then
    assert len(default_page["data"]["myEscrows"]) == 50
    assert len(capped["data"]["myEscrows"]) == 100
    assert len(last_page["data"]["myEscrows"]) == 5
    assert not _ids(capped["data"]["myEscrows"]) & _ids(last_page["data"]["myEscrows"])


@pytest.mark.parametrize(("variables", "field"), [({"first": -1}, "first"), ({"offset": -5}, "offset")])
def test_my_escrows_refuses_a_negative_page_argument(user_api_client, variables, field):
    # when
    errors = get_graphql_errors(user_api_client.post_graphql(MY_ESCROWS_QUERY, variables))

    # then
    assert errors[0]["extensions"] == {"code": "INVALID", "field": field}


def test_my_escrows_refuses_an_anonymous_caller(api_client):
    # given
    EscrowFactory()

    # when
    errors = get_graphql_errors(api_client.post_graphql(MY_ESCROWS_QUERY))

    # then
    assert errors[0]["extensions"] == {"code": "UNAUTHENTICATED"}


def test_an_escrow_cannot_be_reached_through_its_public_errand(api_client):
    # given
    escrow = EscrowFactory()

    # when
    response = api_client.post_graphql(ERRAND_ESCROW_QUERY, {"id": str(escrow.errand_id)})

    # then
    assert response.status_code == 200  # application/json: a validation failure is 200 with errors, no data
    assert "Cannot query field 'escrow' on type 'Errand'" in get_graphql_errors(response)[0]["message"]
