"""Single flight under a stampede (bench_stampede measures it on gunicorn; this pins the race it found)."""

import pytest

from core.cache.store import GenerationStore
from core.factories import ErrandFactory
from tests.fixtures.api import get_graphql_content

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("cache_backend")]

ERRANDS_QUERY = "{ errands(first: 5) { id title createdBy { username } } }"


def test_a_miss_that_gets_the_lock_after_the_entry_was_stored_serves_the_entry(resolver_calls, api_client, monkeypatch):
    # given: the previous holder computes, stores and lets go between our lookup and our acquire
    ErrandFactory.create_batch(3)
    original = GenerationStore.acquire

    def acquire_after_the_previous_holder(self, key, ttl_ms):
        monkeypatch.setattr(GenerationStore, "acquire", original)
        get_graphql_content(api_client.post_graphql(ERRANDS_QUERY))
        return original(self, key, ttl_ms)

    monkeypatch.setattr(GenerationStore, "acquire", acquire_after_the_previous_holder)

    # when
    content = get_graphql_content(api_client.post_graphql(ERRANDS_QUERY))

    # then
    assert resolver_calls["Query.errands"] == 1
    assert len(content["data"]["errands"]) == 3
