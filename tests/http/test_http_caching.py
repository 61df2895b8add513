"""HTTP caching of /graphql/ answers (docs/http.md, "HTTP caching"): ETag and 304, Cache-Control, Vary.

The server-side cache keeps its freshness promise only if browsers and proxies never answer for it: a cacheable
answer is `no-cache` (reuse only after asking), asking costs no SQL when nothing changed, and a write changes the
answer's ETag at once. RFC 9110 section 8.8.3 (ETag), 13.1.2 (If-None-Match), 15.4.5 (304); RFC 9111 5.2.2
(Cache-Control response directives).
"""

from __future__ import annotations

import re

import pytest

from core.cache.store import get_store
from core.factories import BankFactory, RoleFactory, UserFactory
from tests.http.wire import APPLICATION_JSON, body_json, get_form, header_tokens, post_json

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_cache_debug")]

ROLES_QUERY = "{ roles { id name } }"
BANKS_QUERY = '{ banks(country: "NG") { id name } }'
ME_QUERY = "{ me { id username } }"
MY_ERRANDS_QUERY = "{ myErrands { id } }"
UNCACHEABLE_QUERY = "{ __typename roles { id } }"  # __typename has no policy: the whole answer is not cacheable
INVALID_QUERY = "{ roles { nope } }"
TOKEN_AUTH_MUTATION = 'mutation { tokenAuth(username: "nobody", password: "wrong") { token } }'

STRONG_ETAG = re.compile(r'^"[\x21\x23-\x7e]+"$')  # RFC 9110 8.8.3: opaque-tag without the W/ weakness prefix


def get_query(query: str, **headers):
    return get_form({"query": query}, accept=APPLICATION_JSON, headers=headers)


def test_a_cacheable_answer_carries_a_strong_etag(api_client):
    # given
    RoleFactory.create_batch(2)

    # when
    first, second = (get_query(ROLES_QUERY).send(api_client) for _ in range(2))

    # then
    assert first.status_code == 200
    assert STRONG_ETAG.match(first["ETag"]), first["ETag"]
    assert second["ETag"] == first["ETag"]  # the same answer, the same validator (a miss, then a hit)


@pytest.mark.parametrize("query", [ROLES_QUERY, BANKS_QUERY], ids=["roles", "banks"])
def test_if_none_match_on_an_unchanged_answer_is_304_without_sql(api_client, django_assert_num_queries, query):
    # given
    RoleFactory.create_batch(2)
    BankFactory.create_batch(2, country="NG")
    first = get_query(query).send(api_client)
    etag = first["ETag"]

    # when
    with django_assert_num_queries(0):
        response = get_query(query, **{"If-None-Match": etag}).send(api_client)

    # then: RFC 9110 15.4.5: no body, and the headers a 200 would have had that matter to a cache
    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag
    assert {"accept", "authorization", "cookie"} <= header_tokens(response, "Vary")
    assert header_tokens(response, "Cache-Control") == header_tokens(first, "Cache-Control")


def test_if_none_match_after_a_write_gets_the_new_answer_and_a_new_etag(api_client):
    # given
    role = RoleFactory(name="runner")
    etag = get_query(ROLES_QUERY).send(api_client)["ETag"]

    # when: a write through the ORM, then the browser revalidates
    role.name = "dispatcher"
    role.save()
    response = get_query(ROLES_QUERY, **{"If-None-Match": etag}).send(api_client)

    # then
    assert response.status_code == 200
    assert body_json(response)["data"] == {"roles": [{"id": str(role.pk), "name": "dispatcher"}]}
    assert response["ETag"] != etag
    assert STRONG_ETAG.match(response["ETag"])


def test_if_none_match_with_a_stale_etag_on_a_hit_answers_the_body(api_client):
    # given: the current answer is cached server-side; the browser holds some older validator
    RoleFactory(name="runner")
    current = get_query(ROLES_QUERY).send(api_client)

    # when
    response = get_query(ROLES_QUERY, **{"If-None-Match": '"an-older-answer"'}).send(api_client)

    # then
    assert response.status_code == 200
    assert response.content == current.content
    assert response["ETag"] == current["ETag"]


@pytest.mark.parametrize(
    ("query", "signed_in", "expected"),
    [
        (ROLES_QUERY, False, {"no-cache", "public"}),
        (BANKS_QUERY, True, {"no-cache", "public"}),
        (ME_QUERY, True, {"no-cache", "private"}),
        (MY_ERRANDS_QUERY, True, {"no-cache", "private"}),
        (ME_QUERY, False, {"no-store"}),  # a user-scoped field asked anonymously
        (MY_ERRANDS_QUERY, False, {"no-store"}),  # an error (UNAUTHENTICATED)
        (INVALID_QUERY, False, {"no-store"}),  # an error (validation)
        (UNCACHEABLE_QUERY, False, {"no-store"}),  # a root field without a policy
    ],
    ids=["public", "public-signed-in", "me", "my-errands", "me-anonymous", "field-error", "invalid", "uncacheable"],
)
def test_cache_control_of_queries(api_client, api_client_for, query, signed_in, expected):
    # given
    client = api_client_for(UserFactory()) if signed_in else api_client

    # when: a miss, then (when cacheable) a hit
    responses = [get_query(query).send(client) for _ in range(2)]

    # then
    assert [header_tokens(r, "Cache-Control") for r in responses] == [expected, expected]


def test_cache_control_of_a_mutation_is_no_store(api_client):
    # when
    response = post_json({"query": TOKEN_AUTH_MUTATION}, accept=APPLICATION_JSON).send(api_client)

    # then
    assert response.status_code == 200
    assert header_tokens(response, "Cache-Control") == {"no-store"}
    assert "ETag" not in response


def test_a_policy_may_opt_in_to_browser_reuse_with_http_max_age(api_client, settings):
    # given
    roles_policy = {**settings.GRAPHQL_CACHE_POLICIES["Query.roles"], "http_max_age": 30}
    settings.GRAPHQL_CACHE_POLICIES = {**settings.GRAPHQL_CACHE_POLICIES, "Query.roles": roles_policy}

    # when
    response = get_query(ROLES_QUERY).send(api_client)

    # then: reuse without asking for 30 s, so no `no-cache`
    assert header_tokens(response, "Cache-Control") == {"max-age=30", "public"}


def test_http_max_age_with_stale_while_revalidate(api_client, settings):
    # given
    roles_policy = {**settings.GRAPHQL_CACHE_POLICIES["Query.roles"], "http_max_age": 30, "stale_while_revalidate": 30}
    settings.GRAPHQL_CACHE_POLICIES = {**settings.GRAPHQL_CACHE_POLICIES, "Query.roles": roles_policy}

    # when
    response = get_query(ROLES_QUERY).send(api_client)

    # then
    assert header_tokens(response, "Cache-Control") == {"max-age=30", "stale-while-revalidate=30", "public"}


def test_http_max_age_applies_only_when_every_root_field_opts_in(api_client, settings):
    # given: roles opts in, banks does not
    roles_policy = {**settings.GRAPHQL_CACHE_POLICIES["Query.roles"], "http_max_age": 30}
    settings.GRAPHQL_CACHE_POLICIES = {**settings.GRAPHQL_CACHE_POLICIES, "Query.roles": roles_policy}

    # when
    response = get_query('{ roles { id } banks(country: "NG") { id } }').send(api_client)

    # then: one field that must be revalidated makes the whole answer so
    assert header_tokens(response, "Cache-Control") == {"no-cache", "public"}


def test_the_same_get_url_with_two_bearer_tokens_gets_each_viewer_its_own_answer(api_client_for):
    # given
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    alice_client, bob_client = api_client_for(alice), api_client_for(bob)
    alice_answer = get_query(ME_QUERY).send(alice_client)

    # when: bob asks the same URL, even with alice's validator (a shared cache keyed without Authorization would)
    bob_answer = get_query(ME_QUERY, **{"If-None-Match": alice_answer["ETag"]}).send(bob_client)

    # then
    assert body_json(alice_answer)["data"] == {"me": {"id": str(alice.pk), "username": "alice"}}
    assert bob_answer.status_code == 200
    assert body_json(bob_answer)["data"] == {"me": {"id": str(bob.pk), "username": "bob"}}
    assert "authorization" in header_tokens(alice_answer, "Vary")
    assert "authorization" in header_tokens(bob_answer, "Vary")


def test_a_public_query_asked_by_a_hundred_users_and_anonymous_is_one_entry(api_client, api_client_for, cache_backend):
    # given
    RoleFactory.create_batch(3)
    clients = [api_client_for(user) for user in UserFactory.create_batch(100)] + [api_client]

    # when
    answers = {get_query(ROLES_QUERY).send(client).content for client in clients}

    # then: one answer, stored once (the `gql` family holds whole responses, docs/caching.md)
    assert len(answers) == 1
    assert get_store().count("gql:*") == 1
