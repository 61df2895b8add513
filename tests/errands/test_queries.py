from datetime import timedelta

import pytest
from django.utils import timezone

from core.factories import ErrandFactory, UserFactory
from errands.models import ErrandStatus
from tests.fixtures.api import get_graphql_content, get_graphql_errors

pytestmark = pytest.mark.django_db

ERRANDS_QUERY = """
query Errands($status: ErrandStatus, $category: String, $search: String, $first: Int, $offset: Int) {
  errands(status: $status, category: $category, search: $search, first: $first, offset: $offset) {
    id
    title
    status
    budget
    currency
    createdBy { id username }
    runner { id username }
  }
}
"""

ERRANDS_DEFAULT_PAGE_QUERY = """
query ErrandsDefaultPage { errands { id } }
"""

ERRAND_QUERY = """
query Errand($id: ID!) {
  errand(id: $id) {
    id title description category status budget currency pickupAddress dropoffAddress
    deadline createdAt updatedAt
    createdBy { id username }
    runner { id username }
  }
}
"""

MY_ERRANDS_QUERY = """
query MyErrands($status: ErrandStatus, $first: Int, $offset: Int) {
  myErrands(status: $status, first: $first, offset: $offset) { id status createdBy { username } runner { username } }
}
"""


def _ids(errands) -> list[int]:
    return [int(errand["id"]) for errand in errands]


def test_errands_lists_newest_first_with_people(api_client, django_assert_num_queries):
    # given: six errands of different ages, half of them with a runner
    now = timezone.now()
    errands = [
        ErrandFactory(created_at=now - timedelta(hours=hours), **({"assigned": True} if hours % 2 else {}))
        for hours in [5, 1, 3, 6, 2, 4]
    ]
    newest_first = sorted(errands, key=lambda errand: errand.created_at, reverse=True)

    # when
    with django_assert_num_queries(1):
        content = get_graphql_content(api_client.post_graphql(ERRANDS_QUERY))

    # then
    listed = content["data"]["errands"]
    assert _ids(listed) == [errand.pk for errand in newest_first]
    first = newest_first[0]
    assert listed[0]["createdBy"] == {"id": str(first.created_by.pk), "username": first.created_by.username}
    assert listed[0]["runner"] == {"id": str(first.runner.pk), "username": first.runner.username}
    assert listed[0]["budget"] == str(first.budget)


def test_errands_query_count_does_not_grow_with_rows(api_client, django_assert_num_queries):
    # given
    ErrandFactory.create_batch(30, assigned=True)

    # when / then
    with django_assert_num_queries(1):
        content = get_graphql_content(api_client.post_graphql(ERRANDS_QUERY, {"first": 30}))
    assert len(content["data"]["errands"]) == 30


def test_errands_filters_by_status(api_client):
    # given
    open_errand = ErrandFactory()
    ErrandFactory(assigned=True)
    ErrandFactory(cancelled=True)

    # when
    content = get_graphql_content(api_client.post_graphql(ERRANDS_QUERY, {"status": "OPEN"}))

    # then
    assert _ids(content["data"]["errands"]) == [open_errand.pk]
    assert content["data"]["errands"][0]["status"] == "OPEN"


def test_errands_filters_by_category(api_client):
    # given
    pharmacy = ErrandFactory(category="pharmacy")
    ErrandFactory(category="laundry")

    # when
    content = get_graphql_content(api_client.post_graphql(ERRANDS_QUERY, {"category": "pharmacy"}))

    # then
    assert _ids(content["data"]["errands"]) == [pharmacy.pk]


def test_errands_search_matches_title_or_description_ignoring_case(api_client):
    # given
    in_title = ErrandFactory(title="Buy MEDICINE for grandma", description="Quick one")
    in_description = ErrandFactory(title="Pharmacy run", description="Pick up the medicine at noon")
    ErrandFactory(title="Laundry", description="Two bags")

    # when
    content = get_graphql_content(api_client.post_graphql(ERRANDS_QUERY, {"search": "medicine"}))

    # then
    assert set(_ids(content["data"]["errands"])) == {in_title.pk, in_description.pk}


def test_errands_combines_filters(api_client):
    # given
    wanted = ErrandFactory(category="groceries", title="Fresh bread")
    ErrandFactory(category="groceries", title="Fresh bread", assigned=True)
    ErrandFactory(category="laundry", title="Fresh bread")

    # when
    content = get_graphql_content(
        api_client.post_graphql(ERRANDS_QUERY, {"status": "OPEN", "category": "groceries", "search": "bread"})
    )

    # then
    assert _ids(content["data"]["errands"]) == [wanted.pk]


def test_errands_pages_with_first_and_offset(api_client):
    # given
    now = timezone.now()
    errands = [ErrandFactory(created_at=now - timedelta(minutes=minutes)) for minutes in range(5)]

    # when
    content = get_graphql_content(api_client.post_graphql(ERRANDS_QUERY, {"first": 2, "offset": 1}))

    # then
    assert _ids(content["data"]["errands"]) == [errands[1].pk, errands[2].pk]


def test_errands_returns_twenty_by_default(api_client):
    # given
    ErrandFactory.create_batch(21, created_by=UserFactory())

    # when
    content = get_graphql_content(api_client.post_graphql(ERRANDS_DEFAULT_PAGE_QUERY))

    # then
    assert len(content["data"]["errands"]) == 20


def test_errands_caps_first_at_one_hundred(api_client):
    # given
    ErrandFactory.create_batch(101, created_by=UserFactory())

    # when
    content = get_graphql_content(api_client.post_graphql(ERRANDS_QUERY, {"first": 500}))

    # then
    assert len(content["data"]["errands"]) == 100


@pytest.mark.parametrize(("variables", "field"), [({"first": -1}, "first"), ({"offset": -5}, "offset")])
def test_errands_refuses_a_negative_page_argument(api_client, variables, field):
    # when
    errors = get_graphql_errors(api_client.post_graphql(ERRANDS_QUERY, variables))

    # then
    assert errors[0]["extensions"] == {"code": "INVALID", "field": field}
    assert f"{field} must be 0 or more" in errors[0]["message"]


def test_errand_returns_every_field(api_client):
    # given
    errand = ErrandFactory(in_progress=True, title="Deliver the cake", currency="KES")

    # when
    content = get_graphql_content(api_client.post_graphql(ERRAND_QUERY, {"id": str(errand.pk)}))

    # then
    data = content["data"]["errand"]
    assert data["id"] == str(errand.pk)
    assert (data["title"], data["status"], data["currency"]) == ("Deliver the cake", "IN_PROGRESS", "KES")
    assert data["budget"] == str(errand.budget)
    assert data["runner"]["username"] == errand.runner.username
    assert data["createdAt"] and data["updatedAt"] and data["deadline"]


@pytest.mark.parametrize("missing_id", ["999999", "abc", "-1", "99999999999999999999999"])
def test_errand_is_null_when_it_does_not_exist(api_client, missing_id):
    # given
    ErrandFactory()

    # when
    content = get_graphql_content(api_client.post_graphql(ERRAND_QUERY, {"id": missing_id}))

    # then
    assert content["data"]["errand"] is None


def test_my_errands_lists_errands_created_or_run_by_the_viewer(user_api_client, user, django_assert_num_queries):
    # given
    created = ErrandFactory.create_batch(3, created_by=user)
    running = ErrandFactory.create_batch(3, runner=user, in_progress=True)
    ErrandFactory.create_batch(2)
    ErrandFactory.create_batch(2, assigned=True)

    # when: one query authenticates the token, one lists the errands with their people
    with django_assert_num_queries(2):
        content = get_graphql_content(user_api_client.post_graphql(MY_ERRANDS_QUERY))

    # then
    assert set(_ids(content["data"]["myErrands"])) == {errand.pk for errand in created + running}


def test_my_errands_filters_by_status(user_api_client, user):
    # given
    ErrandFactory(created_by=user)
    running = ErrandFactory(runner=user, in_progress=True)

    # when
    content = get_graphql_content(user_api_client.post_graphql(MY_ERRANDS_QUERY, {"status": "IN_PROGRESS"}))

    # then
    assert _ids(content["data"]["myErrands"]) == [running.pk]


def test_my_errands_pages_newest_first_with_first_and_offset(user_api_client, user):
    # given
    now = timezone.now()
    errands = [ErrandFactory(created_by=user, created_at=now - timedelta(minutes=minutes)) for minutes in range(5)]

    # when
    content = get_graphql_content(user_api_client.post_graphql(MY_ERRANDS_QUERY, {"first": 2, "offset": 1}))

    # then
    assert _ids(content["data"]["myErrands"]) == [errands[1].pk, errands[2].pk]


def test_my_errands_returns_fifty_by_default_and_caps_first_at_one_hundred(
    user_api_client, user, django_assert_num_queries
):
    # given: more of the viewer's errands than the cap
    ErrandFactory.create_batch(60, created_by=user)
    ErrandFactory.create_batch(45, runner=user, assigned=True)

    # when
    default_page = get_graphql_content(user_api_client.post_graphql(MY_ERRANDS_QUERY))
    with django_assert_num_queries(2):
        capped = get_graphql_content(user_api_client.post_graphql(MY_ERRANDS_QUERY, {"first": 500}))
    last_page = get_graphql_content(user_api_client.post_graphql(MY_ERRANDS_QUERY, {"first": 100, "offset": 100}))

    # then
    assert len(default_page["data"]["myErrands"]) == 50
    assert len(capped["data"]["myErrands"]) == 100
    assert len(last_page["data"]["myErrands"]) == 5
    assert not set(_ids(capped["data"]["myErrands"])) & set(_ids(last_page["data"]["myErrands"]))


@pytest.mark.parametrize(("variables", "field"), [({"first": -1}, "first"), ({"offset": -5}, "offset")])
def test_my_errands_refuses_a_negative_page_argument(user_api_client, variables, field):
    # when
    errors = get_graphql_errors(user_api_client.post_graphql(MY_ERRANDS_QUERY, variables))

    # then
    assert errors[0]["extensions"] == {"code": "INVALID", "field": field}
    assert f"{field} must be 0 or more" in errors[0]["message"]


def test_my_errands_refuses_an_anonymous_caller(api_client):
    # given
    ErrandFactory()

    # when
    response = api_client.post_graphql(MY_ERRANDS_QUERY)

    # then
    errors = get_graphql_errors(response)
    assert errors[0]["extensions"] == {"code": "UNAUTHENTICATED"}
    assert errors[0]["path"] == ["myErrands"]


def test_errand_status_values_match_the_model():
    # The GraphQL enum and the model choices are declared separately; they must not drift.
    from errands.types import ErrandStatusEnum

    assert [member.value for member in ErrandStatusEnum._meta.enum] == ErrandStatus.values
