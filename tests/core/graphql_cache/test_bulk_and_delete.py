"""Write paths whose rows the cache cannot see one by one: deletes, bulk_update, bulk_create and update().

Each reads through /graphql/ before and after a real write by that path, on both backends.
"""

import pytest

from core.factories import ErrandFactory, UserFactory
from errands.models import Errand
from tests.fixtures.api import get_graphql_content

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("cache_backend")]

ERRANDS_QUERY = "{ errands { id title } }"
SEARCH_QUERY = '{ errands(search: "zebra") { id } }'
MY_ERRANDS_QUERY = "{ myErrands { id } }"


def errands(client, query: str = ERRANDS_QUERY) -> list[dict]:
    data = get_graphql_content(client.post_graphql(query))["data"]
    return next(iter(data.values()))


def test_after_a_delete_the_list_is_fresh_and_cached_again(api_client, resolver_calls):
    # given
    kept, deleted = ErrandFactory.create_batch(2)
    errands(api_client)

    # when
    deleted.delete()
    after = [errands(api_client) for _ in range(2)]

    # then: fresh at once, and the write settled: the second read is a hit
    assert after == [[{"id": str(kept.pk), "title": kept.title}]] * 2
    assert resolver_calls["Query.errands"] == 2


def test_bulk_update_reaches_the_cached_lists_that_show_its_rows(api_client):
    # given
    board = ErrandFactory.create_batch(2, title="before")
    errands(api_client)

    # when
    for errand in board:
        errand.title = "after"
    Errand.objects.bulk_update(board, ["title"])

    # then
    assert [errand["title"] for errand in errands(api_client)] == ["after", "after"]


@pytest.mark.parametrize("known", [2, 1], ids=["rows known", "more rows than UPDATE_ROWS_KNOWN"])
def test_an_update_reaches_the_cached_answers_that_show_its_rows(api_client, monkeypatch, known):
    # given: the board, and one errand's own answer, cached
    from core.cache import invalidation

    monkeypatch.setattr(invalidation, "UPDATE_ROWS_KNOWN", known)
    first, second = ErrandFactory.create_batch(2, title="before")
    errands(api_client)
    one = "query One($id: ID!) { errand(id: $id) { title } }"
    get_graphql_content(api_client.post_graphql(one, {"id": str(second.pk)}))

    # when
    updated = Errand.objects.filter(pk__in=[first.pk, second.pk]).update(title="after")

    # then: both rows were written, and every answer that showed one of them is fresh
    assert updated == 2
    assert [errand["title"] for errand in errands(api_client)] == ["after", "after"]
    assert get_graphql_content(api_client.post_graphql(one, {"id": str(second.pk)}))["data"]["errand"]["title"] == (
        "after"
    )


def test_bulk_writes_reach_cached_lists_that_showed_no_row_yet(api_client, api_client_for):
    # given: empty lists, which depend on no row, only on their families
    creator = UserFactory()
    creator_client = api_client_for(creator)
    assert errands(api_client) == []
    assert errands(creator_client, MY_ERRANDS_QUERY) == []

    # when
    Errand.objects.bulk_create([ErrandFactory.build(created_by=creator)])

    # then
    assert len(errands(api_client)) == 1
    assert len(errands(creator_client, MY_ERRANDS_QUERY)) == 1

    # given / when: update() moves the row into a filtered list that was cached empty
    assert errands(api_client, SEARCH_QUERY) == []
    Errand.objects.update(title="a zebra")

    # then
    assert len(errands(api_client, SEARCH_QUERY)) == 1
