"""When a field fill must not be stored, and when a miss must serve what another request stored.

`__typename` has no policy, so these queries are never cached whole (core/cache/operations.py, plan_operation):
`errands` goes through the field cache on every request.
"""

import json

import pytest
from django.db import transaction

from core.cache import CacheManager
from core.cache.store import GenerationStore
from core.factories import ErrandFactory, RoleFactory, UserFactory
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
