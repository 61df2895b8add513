"""When a field fill must not be stored, and when a miss must serve what another request stored.

`__typename` has no policy, so these queries are never cached whole (core/cache/operations.py, plan_operation):
`errands` goes through the field cache on every request.
"""

import json

import pytest
from django.db import transaction

from accounts.models import User
from core.cache import CacheManager
from core.cache.store import GenerationStore
from core.factories import BankFactory, ErrandFactory, RoleFactory, UserFactory
from errands.models import Errand
from tests.fixtures.api import get_graphql_content

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("cache_backend")]

ERRANDS_FIELD_QUERY = "{ __typename errands { id title createdBy { username } runner { username } } }"


def field_entry(response, path: str = "errands") -> dict:
    entries = json.loads(response.content)["extensions"]["cache"]["fields"]
    return next(entry for entry in entries if entry["path"] == path)


def test_a_field_whose_result_has_errors_is_computed_again(api_client, resolver_calls, field_hook):
    # given: the errands resolver succeeds, but a nullable field below it fails
    ErrandFactory(assigned=True)
    responses = []

    def runner_unavailable():
        raise RuntimeError("runner unavailable")

    # when
    for _ in range(2):
        field_hook("Errand.runner", runner_unavailable)
        responses.append(json.loads(api_client.post_graphql(ERRANDS_FIELD_QUERY).content))

    # then: the second answer carries the error again, computed again rather than served without it
    for response in responses:
        assert response["errors"][0]["path"] == ["errands", 0, "runner"]
        assert response["data"]["errands"][0]["runner"] is None
    assert resolver_calls["Query.errands"] == 2


def test_a_write_committed_while_a_field_is_filled_is_seen_by_the_next_read(api_client, field_hook):
    # given: the errands field has read its rows; before it is stored, a user shown in it is renamed (and committed)
    creator = UserFactory(username="before")
    ErrandFactory(created_by=creator)

    def rename_the_creator():
        creator.username = "after"
        creator.save()

    field_hook("User.username", rename_the_creator)

    # when
    during = get_graphql_content(api_client.post_graphql(ERRANDS_FIELD_QUERY))
    after = get_graphql_content(api_client.post_graphql(ERRANDS_FIELD_QUERY))

    # then: the fill that read the old name was not stored
    assert during["data"]["errands"][0]["createdBy"]["username"] == "before"
    assert after["data"]["errands"][0]["createdBy"]["username"] == "after"


@pytest.mark.parametrize(
    "query",
    ['{ banks(country: "NG") { id name } }', '{ __typename banks(country: "NG") { id name } }'],
    ids=["whole response", "field"],
)
def test_a_fill_is_stored_when_only_a_model_it_does_not_show_was_written(api_client, resolver_calls, field_hook, query):
    # given: while the banks are being filled, errands (which the answer does not show) are created and committed, one
    # by one and in bulk (a write of the whole model)
    BankFactory(country="NG", name="First Bank")
    creator = UserFactory()

    def write_errands():
        ErrandFactory(created_by=creator)
        Errand.objects.bulk_create([ErrandFactory.build(created_by=creator)])

    field_hook("Bank.name", write_errands)

    # when
    during = get_graphql_content(api_client.post_graphql(query))
    after = get_graphql_content(api_client.post_graphql(query))

    # then: the fill was stored, and the second read is served from it (the whole response too, when it is cached whole)
    assert during["data"] == after["data"]
    assert resolver_calls["Query.banks"] == 1
    assert CacheManager.delete_pattern("gql:*", dry_run=True) == (0 if "__typename" in query else 1)


def test_a_fill_is_refused_when_a_model_it_shows_was_written(api_client, resolver_calls, field_hook):
    # given: while the banks are being filled, a bank of another country (not shown) is renamed and committed
    BankFactory(country="NG")
    other = BankFactory(country="GH")

    def rename_the_other_bank():
        other.name = "renamed"
        other.save()

    field_hook("Bank.name", rename_the_other_bank)

    # when
    get_graphql_content(api_client.post_graphql('{ banks(country: "NG") { id name } }'))
    get_graphql_content(api_client.post_graphql('{ banks(country: "NG") { id name } }'))

    # then: a write of the model the answer shows holds the fill off (its list family moved too)
    assert resolver_calls["Query.banks"] == 2


ERRAND_QUERY = "query One($id: ID!) { errand(id: $id) { id title createdBy { username } } }"


@pytest.mark.parametrize("whole", [True, False], ids=["whole response", "field"])
def test_a_fill_is_stored_when_another_row_of_a_model_it_shows_was_written(
    api_client, resolver_calls, field_hook, whole
):
    # given: while errand A is being filled, errand B (not shown) and a user not shown are written and committed
    shown, other = ErrandFactory(title="shown"), ErrandFactory(title="other")
    stranger = UserFactory()

    def write_rows_not_shown():
        other.title = "other, edited"
        other.save()
        stranger.username = "renamed"
        stranger.save()
        Errand.objects.filter(pk=other.pk).update(title="other, updated")  # an update() of known rows too
        User.objects.filter(pk=stranger.pk).update(username="updated")

    field_hook("Errand.title", write_rows_not_shown)
    query = ERRAND_QUERY if whole else ERRAND_QUERY.replace("{ errand(", "{ __typename errand(")

    # when
    during = get_graphql_content(api_client.post_graphql(query, {"id": str(shown.id)}))
    after = get_graphql_content(api_client.post_graphql(query, {"id": str(shown.id)}))

    # then: nothing the answer shows was written, so the fill was stored and serves the second read
    assert during["data"] == after["data"]
    assert resolver_calls["Query.errand"] == 1


@pytest.mark.parametrize("whole", [True, False], ids=["whole response", "field"])
def test_a_fill_is_refused_when_a_row_it_shows_was_written(api_client, resolver_calls, field_hook, whole):
    # given: while errand A is being filled, its creator (shown) is renamed and committed
    creator = UserFactory(username="before")
    shown = ErrandFactory(created_by=creator)

    def rename_the_creator():
        creator.username = "after"
        creator.save()

    field_hook("User.username", rename_the_creator)
    query = ERRAND_QUERY if whole else ERRAND_QUERY.replace("{ errand(", "{ __typename errand(")

    # when
    during = get_graphql_content(api_client.post_graphql(query, {"id": str(shown.id)}))
    after = get_graphql_content(api_client.post_graphql(query, {"id": str(shown.id)}))

    # then
    assert during["data"]["errand"]["createdBy"]["username"] == "before"
    assert after["data"]["errand"]["createdBy"]["username"] == "after"
    assert resolver_calls["Query.errand"] == 2


def test_nothing_is_read_from_or_stored_to_the_field_cache_inside_a_transaction(
    api_client, resolver_calls, cache_debug
):
    # given
    ErrandFactory()

    # when: the same read inside a transaction that has not written, inside one that has, then outside
    with transaction.atomic():
        clean = api_client.post_graphql(ERRANDS_FIELD_QUERY)
    with transaction.atomic():
        RoleFactory()
        dirty = api_client.post_graphql(ERRANDS_FIELD_QUERY)
    outside = api_client.post_graphql(ERRANDS_FIELD_QUERY)

    # then: neither transaction stored anything, and the one that wrote did not even look
    assert field_entry(clean)["reason"] == "inside a transaction"
    assert field_entry(dirty)["reason"] == "in a transaction that has written"
    assert field_entry(outside)["status"] == "MISS"
    assert resolver_calls["Query.errands"] == 3


def test_a_miss_that_gets_the_lock_after_another_request_stored_the_field_serves_it(
    api_client, resolver_calls, monkeypatch
):
    # given: another request computes, stores and lets go of the field between this request's lookup and its lock
    ErrandFactory.create_batch(2)
    acquire = GenerationStore.acquire

    def acquire_after_another_request(self, key, ttl_ms):
        monkeypatch.setattr(GenerationStore, "acquire", acquire)
        get_graphql_content(api_client.post_graphql(ERRANDS_FIELD_QUERY))
        return acquire(self, key, ttl_ms)

    monkeypatch.setattr(GenerationStore, "acquire", acquire_after_another_request)

    # when
    content = get_graphql_content(api_client.post_graphql(ERRANDS_FIELD_QUERY))

    # then: it looked again once it held the lock, and served the other request's entry
    assert resolver_calls["Query.errands"] == 1
    assert len(content["data"]["errands"]) == 2


def test_a_manual_invalidation_in_a_committed_transaction_holds_fills_off_only_until_the_commit(
    api_client, resolver_calls
):
    # given: an invalidation inside a transaction that commits (it bumps at once, and again after the commit)
    ErrandFactory(title="Buy bread")
    with transaction.atomic():
        CacheManager.invalidate("errand_list:*")

    # when: the same query twice after the commit
    first = get_graphql_content(api_client.post_graphql(ERRANDS_FIELD_QUERY))
    second = get_graphql_content(api_client.post_graphql(ERRANDS_FIELD_QUERY))

    # then: the first was stored (the write is settled), so the second is served from the cache
    assert first["data"] == second["data"]
    assert resolver_calls["Query.errands"] == 1
