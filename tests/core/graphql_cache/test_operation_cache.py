"""The operation fast path, the parsed-document cache and Cache-Control."""

import json

import pytest

from core.cache.store import get_store
from core.factories import ErrandFactory, UserFactory
from core.graphql import documents as documents_module
from core.graphql import view as view_module
from core.graphql.documents import DocumentCache
from core.graphql.limits import Limits
from runam.schema import schema
from tests.fixtures.api import get_graphql_content

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("cache_backend")]

BOARD_QUERY = "query Board { errands(first: 5) { id title createdBy { username } } }"
BOARD_REFORMATTED_QUERY = "query   Board {\n  errands(first: 5) {\n id title\n createdBy { username } } }"
TWO_OPERATIONS_QUERY = "query A { roles { name } } query B { errands { id } }"
MY_ERRANDS_QUERY = "{ myErrands { id } }"
NOT_WHOLLY_CACHED_QUERY = "{ __typename roles { name } }"


@pytest.fixture
def count_calls(monkeypatch):
    """count_calls("execute") counts calls of that function as the endpoint sees it (parse and validate: as the
    document cache sees them)."""
    counts: dict[str, int] = {}

    def count(name: str) -> dict[str, int]:
        module = view_module if name == "execute" else documents_module
        real = getattr(module, name)
        counts[name] = 0

        def counted(*args, **kwargs):
            counts[name] += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)
        return counts

    return count


def test_operation_hit_skips_parse_validate_and_execute(api_client, count_calls, django_assert_num_queries):
    # given
    ErrandFactory.create_batch(5)
    counts = count_calls("execute")
    count_calls("parse")
    count_calls("validate")
    first = api_client.post_graphql(BOARD_QUERY)
    # when
    with django_assert_num_queries(0):
        second = api_client.post_graphql(BOARD_QUERY)
    # then
    assert counts == {"execute": 1, "parse": 1, "validate": 1}
    assert json.loads(first.content)["data"] == json.loads(second.content)["data"]
    cache_report = json.loads(second.content)["extensions"]["cache"]
    assert cache_report["operation"] == "HIT"
    assert cache_report["fields"] == [
        {"path": "errands", "field": "Query.errands", "ttl": 60, "family": "errand_list", "status": "HIT"}
    ]


def test_operation_hit_is_byte_identical(api_client, no_cache_debug):
    # given
    ErrandFactory.create_batch(5)
    # when
    miss, hit = (api_client.post_graphql(BOARD_QUERY) for _ in range(2))
    # then
    assert miss.content == hit.content


def test_formatting_does_not_split_operation_entries(api_client, count_calls):
    # given
    ErrandFactory.create_batch(2)
    counts = count_calls("execute")
    # when
    first = get_graphql_content(api_client.post_graphql(BOARD_QUERY))["data"]
    second = get_graphql_content(api_client.post_graphql(BOARD_REFORMATTED_QUERY))["data"]
    # then
    assert first == second
    assert counts["execute"] == 1


def test_operation_name_and_variables_are_part_of_the_key(api_client):
    # given
    ErrandFactory.create_batch(2)
    # when
    roles = get_graphql_content(api_client.post_graphql(TWO_OPERATIONS_QUERY, operation_name="A"))["data"]
    errands = get_graphql_content(api_client.post_graphql(TWO_OPERATIONS_QUERY, operation_name="B"))["data"]
    one = get_graphql_content(api_client.post_graphql("query($n: Int) { errands(first: $n) { id } }", {"n": 1}))
    two = get_graphql_content(api_client.post_graphql("query($n: Int) { errands(first: $n) { id } }", {"n": 2}))
    # then
    assert set(roles) == {"roles"} and set(errands) == {"errands"}
    assert len(one["data"]["errands"]) == 1 and len(two["data"]["errands"]) == 2


def test_user_scoped_operations_are_per_viewer(api_client_for):
    # given
    alice, bob = UserFactory(), UserFactory()
    mine = ErrandFactory(created_by=alice)
    # when
    alice_view = get_graphql_content(api_client_for(alice).post_graphql(MY_ERRANDS_QUERY))["data"]
    bob_view = get_graphql_content(api_client_for(bob).post_graphql(MY_ERRANDS_QUERY))["data"]
    # then
    assert alice_view == {"myErrands": [{"id": str(mine.pk)}]}
    assert bob_view == {"myErrands": []}
    assert get_store().count("gql:public:*") == 0
    assert get_store().count(f"gql:u{alice.pk}:*") == 1


def test_operation_not_cached_when_a_root_field_has_no_policy(api_client, count_calls):
    # given
    counts = count_calls("execute")
    # when
    for _ in range(2):
        get_graphql_content(api_client.post_graphql(NOT_WHOLLY_CACHED_QUERY))
    # then
    assert counts["execute"] == 2
    assert get_store().count("gql:*") == 0


@pytest.mark.parametrize(
    ("query", "who", "expected"),
    [
        ("{ errands { id } }", "anonymous", "public, no-cache"),
        ("{ roles { id } errand(id: 1) { id } }", "anonymous", "public, no-cache"),
        ("{ banks(country: NG) { id } }", "anonymous", "no-store"),  # invalid: an enum where a String is needed
        ('{ banks(country: "NG") { id } }', "anonymous", "public, no-cache"),
        ("{ myErrands { id } roles { id } }", "user", "private, no-cache"),
        ("{ me { id } }", "user", "private, no-cache"),
        ("{ me { id } }", "anonymous", "no-store"),  # a user-scoped answer for nobody: never cacheable
        ("{ myErrands { id } }", "anonymous", "no-store"),  # error: never cacheable
        ("{ __typename errands { id } }", "anonymous", "no-store"),  # a root field without a policy
        ('mutation { tokenAuth(username: "x", password: "y") { token } }', "anonymous", "no-store"),
    ],
)
def test_cache_control_follows_the_policies(api_client, user_api_client, query, who, expected):
    # when
    client = user_api_client if who == "user" else api_client
    responses = [client.post_graphql(query) for _ in range(2)]
    # then: the same on a miss and on a hit
    assert [r["Cache-Control"] for r in responses] == [expected, expected]


def test_cache_control_is_no_store_when_the_cache_is_disabled(settings, api_client):
    # given
    settings.CACHE_ENABLED = False
    # when
    response = api_client.post_graphql("{ errands { id } }")
    # then
    assert response["Cache-Control"] == "no-store"


def test_document_cache_is_bounded_and_least_recently_used_goes_first():
    # given
    documents = DocumentCache(size=2, max_bytes=10_000)
    graphql_schema = schema.graphql_schema

    def get(query):
        return documents.get(query, graphql_schema, None, max_tokens=100, limits=Limits(10, 10, 1000))

    a = get("{ roles { id } }")
    get("{ me { id } }")
    # when: a is used again, then a third document arrives
    assert get("{ roles { id } }") is a
    b = get("{ errands { id } }")
    # then: the least recently used went
    assert len(documents) == 2
    assert get("{ roles { id } }") is a and get("{ errands { id } }") is b


def test_documents_that_fail_validation_are_answered_from_the_document_cache_too(api_client, count_calls):
    # given
    counts = count_calls("validate")
    # when
    responses = [api_client.post_graphql("{ nope }") for _ in range(2)]
    # then: application/json answers a validation failure with 200 and errors (GraphQL over HTTP)
    assert [r.status_code for r in responses] == [200, 200]
    assert all("data" not in json.loads(r.content) for r in responses)
    assert counts["validate"] == 1


def test_api_responses_set_no_csrf_cookie_but_graphiql_does(api_client):
    # when
    api_response = api_client.post_graphql("{ roles { id } }")
    page = api_client.get("/graphql/", HTTP_ACCEPT="text/html")
    # then: only the page a browser session posts from needs a token
    assert "csrftoken" not in api_response.cookies
    assert page.status_code == 200
    assert "csrftoken" in page.cookies
