"""Property: for any valid query (hypothesis-graphql), the answer through the cache (a miss, then a hit, with
other queries cached in between) equals what the server answers with the cache off. Viewer signed in, so
user-scoped fields are cached too: no two generated documents share an entry."""

import json

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis_graphql import from_schema

from core.factories import BankFactory, ErrandFactory, EscrowFactory, RoleFactory, UserFactory
from runam.schema import schema
from tests.core.graphql_cache.oracle import uncached
from tests.fixtures.api import ApiClient

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world():
    viewer = UserFactory(profile__phone="123")
    RoleFactory(name="runner")
    BankFactory(country="NG", name="Access")
    ErrandFactory.create_batch(3)
    ErrandFactory(created_by=viewer, title="mine")
    EscrowFactory(payer=viewer, errand__created_by=viewer)
    return ApiClient(viewer)


def _body(client, query):
    response = client.post_graphql(query)
    body = json.loads(response.content)
    body.pop("extensions", None)
    return response.status_code, body


def test_cached_answers_equal_uncached_answers(world, settings):
    settings.GRAPHQL_CACHE_DEBUG = False
    client = world
    queries = from_schema(
        schema.graphql_schema,
        fields=["errands", "errand", "myErrands", "myEscrows", "banks", "roles", "me"],
        allow_x00=False,
    )

    @hsettings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(st.lists(queries, min_size=1, max_size=3))
    def check(batch):
        for query in batch:
            first = _body(client, query)
            second = _body(client, query)
            expected = uncached(client, query) if first[0] == 200 else None
            if first[0] != 200:
                continue
            assert first[1] == expected, query
            assert second[1] == expected, query

    check()
