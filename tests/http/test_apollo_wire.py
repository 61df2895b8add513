"""Real clients' wire formats: Apollo Client 4 (persisted queries, GET for queries) and Python's gql.

Request shapes are copied from the clients' own source:
- Apollo Client 4.2.12 (tag @apollo/client@4.2.12, commit a4a170f1d8c0eee277f467013ec2b9ce7721e8c5):
  src/link/http/selectHttpOptionsAndBody.ts:19-35 (default headers), :101-108 (body: operationName, variables,
  then extensions, then query); src/link/http/rewriteURIForGET.ts:13-36 (GET parameters, encodeURIComponent,
  in the order query, operationName, variables, extensions); src/link/http/BaseHttpLink.ts:355-368 (GET when
  useGETForQueries and the operation is no mutation; the same headers, so Content-Type: application/json on GET);
  src/link/utils/createOperation.ts:13 (`variables: request.variables || {}`, so `variables` is always sent);
  src/link/persisted-queries/index.ts:466-505 (first request: no query, extensions.persistedQuery
  {version: 1, sha256Hash}, GET with useGETForHashedQueries), :383-397 (the retry: POST with query and extensions).
- When Apollo retries, src/link/persisted-queries/index.ts:223-255: it retries on an error whose `message` is
  "PersistedQueryNotFound" or whose `extensions.code` is PERSISTED_QUERY_NOT_FOUND, and stops hashing for good on
  "PersistedQueryNotSupported" / PERSISTED_QUERY_NOT_SUPPORTED, whatever the status: a 2xx body goes through
  `next` (:411-425), a non-2xx one through `error`, where ServerError.bodyText is parsed (:433-449); either way the
  body must pass isFormattedExecutionResult (src/utilities/graphql/isFormattedExecutionResult.ts:30-39: `data` or
  `errors` present and NO other top-level key than data, errors, extensions).
- gql 3.5.0 (tag v3.5.0): gql/transport/requests.py:148-239 (POST, `json=` payload {query: print_ast(document),
  operationName?, variables?}, the transport's headers); gql/transport/aiohttp.py:227-308 (the same payload through
  aiohttp's `json=`, serialized by json.dumps).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import redis
import requests
from django.core.management import call_command
from gql import Client, gql
from gql.transport.requests import RequestsHTTPTransport
from graphql import parse, print_ast
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from core.factories import BankFactory, RoleFactory, UserFactory
from tests.fixtures.api import GRAPHQL_URL, ApiClient
from tests.http.wire import (
    APPLICATION_JSON,
    GRAPHQL_RESPONSE_JSON_UTF8,
    WireRequest,
    body_json,
    encode_uri_component,
    error_codes,
    header_tokens,
    media_type,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_cache_debug")]

# Apollo Client 4, selectHttpOptionsAndBody.ts:21 and :34 (sent on every request, GET included).
APOLLO_ACCEPT = "application/graphql-response+json,application/json;q=0.9"

# Documents as Apollo Client sends them: print()ed by graphql-js (graphql-core's print_ast prints the same text),
# with __typename added to every selection set by InMemoryCache. Each test names its operation differently so that
# each has its own hash: hash → text is remembered by the process, and a test must not find another's.
ROLES_DOCUMENT = "query {name} {{ roles {{ id name __typename }} }}"
BANKS_DOCUMENT = "query {name}($country: String!) {{ banks(country: $country) {{ id name __typename }} }}"
ME_DOCUMENT = "query Me { me { id username __typename } }"
GQL_ME_DOCUMENT = "query Me { me { id username } }"
GQL_BANKS_DOCUMENT = "query Banks($country: String!) { banks(country: $country) { id name } }"

PERSISTED_QUERY_NOT_FOUND = "PersistedQueryNotFound"
PERSISTED_QUERY_NOT_SUPPORTED = "PersistedQueryNotSupported"
# docs/http.md, "Persisted queries". Apollo Server 4 answers both with 200 (internalErrorClasses.ts:56-61); Apollo
# Client 4 reads the error from the body whatever the status (see the module docstring), so 404 works with it too.
PERSISTED_QUERY_NOT_FOUND_STATUS = 200  # as Apollo Server 4 (internalErrorClasses.ts)
PERSISTED_QUERY_NOT_SUPPORTED_STATUS = 200
# Apollo Server 4, internalErrorClasses.ts:56-61, and docs/http.md: a not-found answer must never be reused.
PERSISTED_QUERY_CACHE_CONTROL = {"private", "no-cache", "must-revalidate"}
FORMATTED_EXECUTION_RESULT_KEYS = {"data", "errors", "extensions"}


def printed(document: str) -> str:
    """The text Apollo sends for a document: graphql-js print(), which graphql-core's print_ast reproduces."""
    return print_ast(parse(document))


def roles_text(name: str) -> str:
    return printed(ROLES_DOCUMENT.format(name=name))


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def persisted_query(text: str) -> dict:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256(text)}}


def apollo_post(operation_name: str, variables: dict, *, extensions: dict | None = None, query: str | None = None):
    """A POST exactly as Apollo's HttpLink builds it: keys in the order of selectHttpOptionsAndBody.ts:102-108,
    serialized by JSON.stringify (compact)."""
    body: dict = {"operationName": operation_name, "variables": variables}
    if extensions:
        body["extensions"] = extensions
    if query is not None:
        body["query"] = query
    payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return WireRequest("POST", payload, APPLICATION_JSON, APOLLO_ACCEPT)


def apollo_get(operation_name: str, variables: dict, *, extensions: dict | None = None, query: str | None = None):
    """A GET exactly as rewriteURIForGET.ts builds it, with HttpLink's headers (Content-Type included)."""
    params = []
    if query is not None:
        params.append(("query", query))
    params.append(("operationName", operation_name))
    params.append(("variables", json.dumps(variables, separators=(",", ":"))))
    if extensions:
        params.append(("extensions", json.dumps(extensions, separators=(",", ":"))))
    query_string = "&".join(f"{key}={encode_uri_component(value)}" for key, value in params)
    return WireRequest("GET", b"", APPLICATION_JSON, APOLLO_ACCEPT, query_string=query_string)


def assert_apollo_reads_error(response, message: str, code: str) -> None:
    """What Apollo Client 4 needs to recognize a persisted-query error (module docstring)."""
    body = body_json(response)
    assert set(body) <= FORMATTED_EXECUTION_RESULT_KEYS, body  # isFormattedExecutionResult
    assert "data" not in body
    assert [error["message"] for error in body["errors"]] == [message]
    assert error_codes(response) == [code]


# --- (a) PersistedQueryLink, POST ------------------------------------------------------------------------------------


def test_a_hash_the_server_has_not_seen_is_persisted_query_not_found(api_client):
    # given
    text = roles_text("RolesUnknown")

    # when: the link's first request carries the hash and no query
    response = apollo_post("RolesUnknown", {}, extensions=persisted_query(text)).send(api_client)

    # then
    assert response.status_code == PERSISTED_QUERY_NOT_FOUND_STATUS
    assert media_type(response) == GRAPHQL_RESPONSE_JSON_UTF8
    assert_apollo_reads_error(response, PERSISTED_QUERY_NOT_FOUND, "PERSISTED_QUERY_NOT_FOUND")
    assert header_tokens(response, "Cache-Control") == PERSISTED_QUERY_CACHE_CONTROL


def test_the_retry_with_the_text_runs_the_query(api_client):
    # given
    role = RoleFactory(name="runner")
    text = roles_text("RolesRetry")
    apollo_post("RolesRetry", {}, extensions=persisted_query(text)).send(api_client)

    # when: the link retries by POST with the query and the same extensions (index.ts:383-397)
    response = apollo_post("RolesRetry", {}, extensions=persisted_query(text), query=text).send(api_client)

    # then
    assert response.status_code == 200
    assert body_json(response)["data"] == {"roles": [{"id": str(role.pk), "name": "runner", "__typename": "Role"}]}


def test_a_registered_hash_alone_is_answered_from_the_server_cache(
    api_client, cache_backend, cache_debug, django_assert_num_queries
):
    # given: the link's whole first conversation: not found, then the retry with the text
    RoleFactory.create_batch(3)
    text = roles_text("RolesHit")
    apollo_post("RolesHit", {}, extensions=persisted_query(text)).send(api_client)
    registered = apollo_post("RolesHit", {}, extensions=persisted_query(text), query=text).send(api_client)

    # when: the next time, the hash alone
    with django_assert_num_queries(0):
        response = apollo_post("RolesHit", {}, extensions=persisted_query(text)).send(api_client)

    # then
    assert response.status_code == 200
    body = body_json(response)
    assert body["data"] == body_json(registered)["data"]
    assert len(body["data"]["roles"]) == 3
    assert body["extensions"]["cache"]["operation"] == "HIT"


def test_a_registered_text_lives_in_the_cache_backend_for_the_apq_ttl(api_client, redis_cache, redis_url, settings):
    # given
    settings.GRAPHQL_APQ_TTL = 120
    text = roles_text("RolesTtl")

    # when
    apollo_post("RolesTtl", {}, extensions=persisted_query(text), query=text).send(api_client)

    # then: docs/http.md: stored under apq:<hash> (our key prefix before it) with GRAPHQL_APQ_TTL
    server = redis.Redis.from_url(redis_url)
    [key] = [key for key in server.scan_iter(match=f"*apq:{sha256(text)}*")]
    assert 0 < server.ttl(key) <= 120


def test_a_hash_only_hit_costs_no_more_redis_round_trips_than_the_text(api_client, redis_cache, redis_round_trips):
    # given: registered, and its answer cached
    RoleFactory.create_batch(2)
    text = roles_text("RolesTrips")
    apollo_post("RolesTrips", {}, extensions=persisted_query(text), query=text).send(api_client)
    apollo_post("RolesTrips", {}, query=text).send(api_client)

    # when
    redis_round_trips.reset()
    by_text = apollo_post("RolesTrips", {}, query=text).send(api_client)
    text_trips = redis_round_trips.count
    redis_round_trips.reset()
    by_hash = apollo_post("RolesTrips", {}, extensions=persisted_query(text)).send(api_client)
    hash_trips = redis_round_trips.count

    # then: the process remembers hash → text (immutable), so the hash costs no lookup of its own
    assert by_hash.content == by_text.content
    assert hash_trips == text_trips


def test_a_hash_that_is_not_the_sha256_of_the_text_is_refused_and_not_stored(api_client):
    # given
    text = roles_text("RolesMismatch")
    wrong = {"persistedQuery": {"version": 1, "sha256Hash": sha256("{ __typename }")}}

    # when
    response = apollo_post("RolesMismatch", {}, extensions=wrong, query=text).send(api_client)
    later = apollo_post("RolesMismatch", {}, extensions=wrong).send(api_client)

    # then: Apollo Server's "provided sha does not match query" (requestPipeline.ts:158-164), as docs/http.md says
    assert response.status_code == 400
    assert "data" not in body_json(response)
    assert error_codes(response) == ["BAD_REQUEST"]
    assert error_codes(later) == ["PERSISTED_QUERY_NOT_FOUND"]


def test_with_apq_disabled_a_persisted_query_is_not_supported(api_client, settings):
    # given
    settings.GRAPHQL_APQ = False
    RoleFactory(name="runner")
    text = roles_text("RolesDisabled")

    # when: the hash alone, then the link's retry (with the text; it drops the hash from then on, index.ts:371-376)
    refused = apollo_post("RolesDisabled", {}, extensions=persisted_query(text)).send(api_client)
    retried = apollo_post("RolesDisabled", {}, query=text).send(api_client)

    # then
    assert refused.status_code == PERSISTED_QUERY_NOT_SUPPORTED_STATUS
    assert_apollo_reads_error(refused, PERSISTED_QUERY_NOT_SUPPORTED, "PERSISTED_QUERY_NOT_SUPPORTED")
    assert retried.status_code == 200
    assert body_json(retried)["data"]["roles"][0]["name"] == "runner"


def test_with_apq_disabled_a_hash_sent_with_its_text_is_not_supported_either(api_client, settings):
    # given
    settings.GRAPHQL_APQ = False
    text = roles_text("RolesDisabledWithText")

    # when
    response = apollo_post("RolesDisabledWithText", {}, extensions=persisted_query(text), query=text).send(api_client)

    # then: docs/http.md: "any persistedQuery gets PersistedQueryNotSupported"
    assert_apollo_reads_error(response, PERSISTED_QUERY_NOT_SUPPORTED, "PERSISTED_QUERY_NOT_SUPPORTED")


# --- (a) allow-list mode: documents registered with `manage.py load_persisted_queries FILE` --------------------------


def apollo_manifest(*texts: str) -> dict:
    """Apollo's persisted query manifest (@apollo/generate-persisted-query-manifest): format, version, operations."""
    operations = []
    for text in texts:
        definition = parse(text).definitions[0]
        operations.append(
            {"id": sha256(text), "name": definition.name.value, "type": definition.operation.value, "body": text}
        )
    return {"format": "apollo-persisted-query-manifest", "version": 1, "operations": operations}


def hash_map(*texts: str) -> dict:
    return {sha256(text): text for text in texts}


@pytest.fixture(params=[apollo_manifest, hash_map], ids=["apollo-manifest", "hash-map"])
def allowlisted(request, settings, tmp_path) -> Iterator[str]:
    """Allow-list mode with one registered document, loaded from a file in either format docs/http.md accepts."""
    settings.GRAPHQL_APQ_ALLOWLIST = True
    text = roles_text("RolesAllowed")
    manifest = tmp_path / "persisted-queries.json"
    manifest.write_text(json.dumps(request.param(text)))
    call_command("load_persisted_queries", str(manifest))
    yield text


def test_allowlist_runs_a_registered_hash(api_client, allowlisted):
    # given
    RoleFactory(name="runner")

    # when
    response = apollo_post("RolesAllowed", {}, extensions=persisted_query(allowlisted)).send(api_client)

    # then
    assert response.status_code == 200
    assert body_json(response)["data"]["roles"][0]["name"] == "runner"


def test_allowlist_runs_a_registered_text(api_client, allowlisted):
    # when
    response = apollo_post("RolesAllowed", {}, query=allowlisted).send(api_client)

    # then
    assert response.status_code == 200
    assert body_json(response)["data"] == {"roles": []}


@pytest.mark.parametrize("with_hash", [False, True], ids=["text", "text-and-hash"])
def test_allowlist_refuses_an_unregistered_text_and_stores_nothing(api_client, allowlisted, with_hash):
    # given
    text = roles_text("RolesNotAllowed")
    extensions = persisted_query(text) if with_hash else None

    # when
    refused = apollo_post("RolesNotAllowed", {}, extensions=extensions, query=text).send(api_client)
    later = apollo_post("RolesNotAllowed", {}, extensions=persisted_query(text)).send(api_client)

    # then
    assert refused.status_code == 403
    assert "data" not in body_json(refused)
    assert error_codes(refused) == ["PERSISTED_QUERY_NOT_ALLOWED"]
    assert "data" not in body_json(later)  # the refused text was not registered by the request


# --- (b) useGETForHashedQueries ---------------------------------------------------------------------------------------


def test_get_for_hashed_queries_round_trip(api_client, cache_debug, django_assert_num_queries):
    # given
    BankFactory.create_batch(2, country="NG")
    text = printed(BANKS_DOCUMENT.format(name="BanksByGet"))
    variables = {"country": "NG"}
    extensions = persisted_query(text)

    # when: GET with the hash (not found), the retry by POST with the text, then GET with the hash again
    not_found = apollo_get("BanksByGet", variables, extensions=extensions).send(api_client)
    retried = apollo_post("BanksByGet", variables, extensions=extensions, query=text).send(api_client)
    with django_assert_num_queries(0):
        hashed = apollo_get("BanksByGet", variables, extensions=extensions).send(api_client)

    # then
    assert not_found.status_code == PERSISTED_QUERY_NOT_FOUND_STATUS
    assert_apollo_reads_error(not_found, PERSISTED_QUERY_NOT_FOUND, "PERSISTED_QUERY_NOT_FOUND")
    # a 404 to a GET is heuristically cacheable (RFC 9111 4.2.2): the browser must not keep answering the hash with it
    assert header_tokens(not_found, "Cache-Control") == PERSISTED_QUERY_CACHE_CONTROL
    assert retried.status_code == 200
    assert hashed.status_code == 200
    assert body_json(hashed)["data"] == body_json(retried)["data"]
    assert len(body_json(hashed)["data"]["banks"]) == 2
    assert body_json(hashed)["extensions"]["cache"]["operation"] == "HIT"


def test_get_for_hashed_queries_sends_a_url_apollo_would_build(api_client):
    # given: the exact URL for {operationName: "RolesUrl", variables: {}, extensions: {persistedQuery}}
    text = roles_text("RolesUrl")
    request = apollo_get("RolesUrl", {}, extensions=persisted_query(text))

    # then: the test speaks Apollo's dialect (a guard on the helper, checked against rewriteURIForGET.ts)
    assert request.query_string == (
        "operationName=RolesUrl&variables=%7B%7D&extensions="
        + "%7B%22persistedQuery%22%3A%7B%22version%22%3A1%2C%22sha256Hash%22%3A%22"
        + sha256(text)
        + "%22%7D%7D"
    )
    # and the server answers it as a persisted-query request, not as a GET without a query
    assert error_codes(request.send(api_client)) == ["PERSISTED_QUERY_NOT_FOUND"]


# --- (c) HttpLink useGETForQueries -----------------------------------------------------------------------------------


def test_get_for_queries_with_apollos_content_type_header_answers_data(api_client):
    # given
    bank = BankFactory(country="NG", name="Zenith")
    text = printed(BANKS_DOCUMENT.format(name="Banks"))

    # when: Apollo sends Content-Type: application/json on a GET (selectHttpOptionsAndBody.ts:22-34)
    response = apollo_get("Banks", {"country": "NG"}, query=text).send(api_client)

    # then
    assert response.status_code == 200
    assert media_type(response) == GRAPHQL_RESPONSE_JSON_UTF8
    assert body_json(response) == {"data": {"banks": [{"id": str(bank.pk), "name": "Zenith", "__typename": "Bank"}]}}


def test_get_for_queries_of_a_signed_in_viewer(api_client_for):
    # given
    alice = UserFactory(username="alice")

    # when
    response = apollo_get("Me", {}, query=printed(ME_DOCUMENT)).send(api_client_for(alice))

    # then
    assert response.status_code == 200
    assert body_json(response) == {"data": {"me": {"id": str(alice.pk), "username": "alice", "__typename": "Viewer"}}}


# --- (d) Python gql ---------------------------------------------------------------------------------------------------


class DjangoTestClientAdapter(BaseAdapter):
    """A requests transport adapter that hands each prepared request to Django's test client and keeps it."""

    def __init__(self, client: ApiClient) -> None:
        super().__init__()
        self.client = client
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        self.sent.append(request)
        url = urlsplit(request.url)
        path = f"{url.path}?{url.query}" if url.query else url.path
        headers = {name: value for name, value in request.headers.items() if name.lower() != "content-length"}
        answer = self.client.generic(request.method, path, data=request.body or b"", content_type="", headers=headers)
        response = requests.Response()
        response.status_code = answer.status_code
        response.reason = answer.reason_phrase
        response.headers = CaseInsensitiveDict(answer.headers)
        response._content = answer.content
        response.url = request.url
        response.request = request
        return response

    def close(self) -> None:
        pass


@pytest.fixture
def gql_session():
    """gql_session(headers) opens a gql 3.5 Client over RequestsHTTPTransport, wired to the test client."""
    opened = []

    def open_session(headers: dict | None = None):
        transport = RequestsHTTPTransport(url=f"http://testserver{GRAPHQL_URL}", headers=headers)
        client = Client(transport=transport)
        session = client.connect_sync()
        adapter = DjangoTestClientAdapter(ApiClient())
        transport.session.mount("http://testserver/", adapter)
        opened.append(client)
        return session, adapter

    yield open_session
    for client in opened:
        client.close_sync()


def test_gql_requests_transport_posts_json_and_reads_data(gql_session):
    # given
    bank = BankFactory(country="NG", name="Zenith")
    session, adapter = gql_session()

    # when
    data = session.execute(gql(GQL_BANKS_DOCUMENT), variable_values={"country": "NG"}, operation_name="Banks")

    # then: the answer, and the request gql sent for it (requests.py:148-239)
    assert data == {"banks": [{"id": str(bank.pk), "name": "Zenith"}]}
    [sent] = adapter.sent
    assert sent.method == "POST"
    assert sent.headers["Content-Type"] == APPLICATION_JSON
    assert sent.headers["Accept"] == "*/*"
    assert json.loads(sent.body) == {
        "query": printed(GQL_BANKS_DOCUMENT),
        "operationName": "Banks",
        "variables": {"country": "NG"},
    }


def test_gql_requests_transport_with_a_bearer_header(gql_session):
    # given
    alice = UserFactory(username="alice")
    token = ApiClient(alice).token
    session, adapter = gql_session({"Authorization": f"Bearer {token}"})

    # when
    data = session.execute(gql(GQL_ME_DOCUMENT))

    # then
    assert data == {"me": {"id": str(alice.pk), "username": "alice"}}
    assert adapter.sent[0].headers["Authorization"] == f"Bearer {token}"


def test_gql_aiohttp_transport_request_shape(api_client):
    # given: what AIOHTTPTransport sends (aiohttp.py:227-308): json.dumps of the payload (Python's default
    # separators), Content-Type application/json from aiohttp's JSON payload, aiohttp's default Accept */*
    payload = {"query": printed(GQL_BANKS_DOCUMENT), "operationName": "Banks", "variables": {"country": "NG"}}
    BankFactory(country="NG", name="Zenith")
    request = WireRequest("POST", json.dumps(payload), APPLICATION_JSON, "*/*")

    # when
    response = request.send(api_client)

    # then
    assert response.status_code == 200
    assert body_json(response)["data"]["banks"][0]["name"] == "Zenith"
