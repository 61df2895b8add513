"""Field caching through /graphql/: keys, hits without SQL or resolvers, scopes, what is never cached.

Every test runs on LocMem and on a real redis-server (cache_backend), with committed data (transaction=True):
what a test transaction writes is, by design, never cached.
"""

import json
import threading

import pytest
from django.db import connection

from core.cache import CacheManager
from core.cache.store import GenerationStore, get_store
from core.factories import BankFactory, ErrandFactory, EscrowFactory, RoleFactory, UserFactory
from tests.fixtures.api import ApiClient, get_graphql_content, get_graphql_errors

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("cache_backend")]

ERRANDS_QUERY = """
query Board($status: ErrandStatus, $first: Int) {
  errands(status: $status, first: $first) {
    id title status budget createdAt
    createdBy { id username }
    runner { id username }
  }
}
"""
ERRANDS_IDS_QUERY = "{ errands { id } }"
ERRANDS_ALIASED_QUERY = "{ board: errands { id } }"
ERRANDS_FRAGMENT_QUERY = "{ errands { ...F } } fragment F on Errand { id title }"
ERRANDS_OTHER_FRAGMENT_QUERY = "{ errands { ...F } } fragment F on Errand { id status }"
ERRAND_QUERY = "query One($id: ID!) { errand(id: $id) { id title createdBy { username } } }"
MY_ERRANDS_QUERY = "{ myErrands { id title } }"
MY_ESCROWS_QUERY = "{ myEscrows { id reference amount payer { username } payee { username } } }"
MIXED_SCOPES_QUERY = '{ banks(country: "NG") { id name } myEscrows { id reference } }'
BAD_FIRST_QUERY = "{ errands(first: -1) { id } }"
ROLES_QUERY = "{ roles { id name } }"
ME_QUERY = "{ me { id username email profile { phone country } } }"


def concurrently(threads: int, call):
    """Runs call() in that many threads released at once; returns their results."""
    barrier = threading.Barrier(threads)
    results = []

    def run() -> None:
        barrier.wait()
        try:
            results.append(call())
        finally:
            connection.close()

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return results


def field_status(response, path: str) -> str:
    entries = json.loads(response.content)["extensions"]["cache"]["fields"]
    return next(entry["status"] for entry in entries if entry["path"] == path)


@pytest.fixture
def board():
    creators = UserFactory.create_batch(3)
    return [ErrandFactory(created_by=creators[i % 3]) for i in range(6)]


def test_second_read_is_a_hit_with_no_sql_and_no_resolver(board, api_client, resolver_calls, django_assert_num_queries):
    # given
    api_client.post_graphql(ERRANDS_QUERY, {"first": 10})
    resolver_calls.clear()
    # when
    with django_assert_num_queries(0):
        response = api_client.post_graphql(ERRANDS_QUERY, {"first": 10})
    # then
    assert len(get_graphql_content(response)["data"]["errands"]) == 6
    assert resolver_calls == {}


def test_field_hit_skips_every_resolver_below_it(board, api_client, resolver_calls, django_assert_num_queries):
    # given: errands has a policy, __typename does not, so the operation is not cached whole
    query = "{ __typename errands { id createdBy { username } } }"
    api_client.post_graphql(query)
    resolver_calls.clear()
    # when
    with django_assert_num_queries(0):
        response = api_client.post_graphql(query)
    # then
    assert len(get_graphql_content(response)["data"]["errands"]) == 6
    assert resolver_calls == {"Query.__typename": 1}


def test_hit_is_byte_identical_to_the_miss(board, api_client, no_cache_debug):
    # when
    miss = api_client.post_graphql(ERRANDS_QUERY, {"first": 10})
    hit = api_client.post_graphql(ERRANDS_QUERY, {"first": 10})
    field_only = "{ __typename errands { id title budget createdBy { username } } }"
    field_miss = api_client.post_graphql(field_only)
    field_hit = api_client.post_graphql(field_only)
    # then
    assert miss.content == hit.content
    assert field_miss.content == field_hit.content
    assert b'"budget":"' in miss.content  # Decimal stays a string through the cache


def test_extensions_report_miss_then_hit(board, api_client, cache_debug):
    # when
    first = api_client.post_graphql("{ __typename errands { id } }")
    second = api_client.post_graphql("{ __typename errands { id } }")
    # then
    assert field_status(first, "errands") == "MISS"
    assert field_status(second, "errands") == "HIT"
    entry = json.loads(second.content)["extensions"]["cache"]["fields"][0]
    assert entry["family"] == "errand_list" and entry["ttl"] == 60


@pytest.mark.parametrize(
    "query, families",
    [(ERRANDS_IDS_QUERY, ["errand_list", "gql"]), ("{ __typename errands { id } }", ["errand_list"])],
    ids=["whole response", "field"],
)
def test_stats_count_a_fill_and_a_hit_under_the_field_s_family_and_the_whole_response_s(
    board, api_client, query, families
):
    # when
    get_graphql_content(api_client.post_graphql(query))
    get_graphql_content(api_client.post_graphql(query))

    # then: the first read missed and stored, the second hit (the whole response when there is one, else the field)
    counted = CacheManager.get_stats()["families"]
    assert {family: (row["misses"], row["sets"]) for family, row in counted.items()} == {
        family: (1, 1) for family in families
    }
    assert counted[families[-1]]["hits"] == 1


def test_extensions_say_a_field_whose_resolver_raised_was_not_cached(api_client, cache_debug):
    # when: the root resolver refuses its argument (it raises; the field is an error)
    response = api_client.post_graphql("{ __typename errands(first: -1) { id } }")
    # then: the report says why nothing was stored, under "reason"
    entry = json.loads(response.content)["extensions"]["cache"]["fields"][0]
    assert (entry["path"], entry["status"], entry["reason"]) == ("errands", "MISS", "resolver raised")


@pytest.mark.parametrize(
    ("query_a", "query_b"),
    [
        (ERRANDS_IDS_QUERY, "{ errands { id title } }"),
        (ERRANDS_IDS_QUERY, ERRANDS_ALIASED_QUERY),
        (ERRANDS_FRAGMENT_QUERY, ERRANDS_OTHER_FRAGMENT_QUERY),
        ("{ errands(first: 2) { id } }", "{ errands(first: 3) { id } }"),
    ],
)
def test_different_selections_never_share_an_entry(board, api_client, resolver_calls, query_a, query_b):
    # given
    a_first = get_graphql_content(api_client.post_graphql(query_a))["data"]
    resolver_calls.clear()
    # when
    b_first = get_graphql_content(api_client.post_graphql(query_b))["data"]
    # then: b was computed, and its shape is its own
    assert resolver_calls["Query.errands"] == 1
    assert a_first != b_first
    assert get_graphql_content(api_client.post_graphql(query_b))["data"] == b_first


def test_variables_are_part_of_the_key(api_client, resolver_calls):
    # given
    ErrandFactory.create_batch(2)
    ErrandFactory.create_batch(3, completed=True)
    # when
    open_ = get_graphql_content(api_client.post_graphql(ERRANDS_QUERY, {"status": "OPEN"}))["data"]["errands"]
    done = get_graphql_content(api_client.post_graphql(ERRANDS_QUERY, {"status": "COMPLETED"}))["data"]["errands"]
    # then
    assert {e["status"] for e in open_} == {"OPEN"} and len(open_) == 2
    assert {e["status"] for e in done} == {"COMPLETED"} and len(done) == 3
    assert resolver_calls["Query.errands"] == 2


def test_errand_ids_written_differently_share_the_family_a_write_bumps(api_client):
    # given: "007" and "7" are the same errand, so a write to it must reach both entries
    errand = ErrandFactory(title="before")
    for spelled in (str(errand.pk), f"00{errand.pk}"):
        api_client.post_graphql(ERRAND_QUERY, {"id": spelled})
    # when
    errand.title = "after"
    errand.save()
    # then
    for spelled in (str(errand.pk), f"00{errand.pk}"):
        data = get_graphql_content(api_client.post_graphql(ERRAND_QUERY, {"id": spelled}))["data"]
        assert data["errand"]["title"] == "after"


def test_missing_errand_is_cached_as_null_until_it_exists(api_client):
    # given
    assert get_graphql_content(api_client.post_graphql(ERRAND_QUERY, {"id": "999999"}))["data"]["errand"] is None
    # when: the next errand created takes some id; read that id before and after
    errand = ErrandFactory()
    # then
    data = get_graphql_content(api_client.post_graphql(ERRAND_QUERY, {"id": str(errand.pk)}))["data"]
    assert data["errand"]["id"] == str(errand.pk)


def test_user_scope_never_shares_between_viewers(api_client_for, resolver_calls):
    # given
    alice, bob = UserFactory(), UserFactory()
    ErrandFactory(created_by=alice, title="alice's")
    ErrandFactory(created_by=bob, title="bob's")
    carol = UserFactory()
    EscrowFactory(errand__created_by=carol, errand__runner=alice, payee=alice)
    # when
    alice_errands = [api_client_for(alice).post_graphql(MY_ERRANDS_QUERY) for _ in range(2)]
    bob_errands = [api_client_for(bob).post_graphql(MY_ERRANDS_QUERY) for _ in range(2)]
    alice_escrows = get_graphql_content(api_client_for(alice).post_graphql(MY_ESCROWS_QUERY))
    bob_escrows = get_graphql_content(api_client_for(bob).post_graphql(MY_ESCROWS_QUERY))
    # then
    alice_titles = {e["title"] for e in get_graphql_content(alice_errands[1])["data"]["myErrands"]}
    assert "alice's" in alice_titles and "bob's" not in alice_titles
    assert [e["title"] for e in get_graphql_content(bob_errands[1])["data"]["myErrands"]] == ["bob's"]
    assert resolver_calls["Query.myErrands"] == 2  # one miss per viewer, then hits
    assert [e["payee"]["username"] for e in alice_escrows["data"]["myEscrows"]] == [alice.username]
    assert bob_escrows["data"]["myEscrows"] == []


def test_user_scope_is_never_cached_for_anonymous(api_client, resolver_calls):
    # when
    for _ in range(2):
        errors = get_graphql_errors(api_client.post_graphql(MY_ERRANDS_QUERY))
        assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
    anonymous_me = [get_graphql_content(api_client.post_graphql(ME_QUERY)) for _ in range(2)]
    # then
    assert resolver_calls["Query.myErrands"] == 2
    assert resolver_calls["Query.me"] == 2
    assert anonymous_me[1]["data"]["me"] is None
    assert get_store().count("user_errands:*") == 0
    assert get_store().count("user_profile:*") == 0


def test_mixed_scopes_cache_public_once_and_private_per_user(api_client_for, cache_debug):
    # given
    BankFactory(country="NG", name="Access")
    alice, bob = UserFactory(), UserFactory()
    # when
    alice_response = api_client_for(alice).post_graphql(MIXED_SCOPES_QUERY)
    bob_response = api_client_for(bob).post_graphql(MIXED_SCOPES_QUERY)
    # then
    assert field_status(alice_response, "banks") == "MISS"
    assert field_status(alice_response, "myEscrows") == "MISS"
    assert field_status(bob_response, "banks") == "HIT"
    assert field_status(bob_response, "myEscrows") == "MISS"
    assert bob_response["Cache-Control"] == "private, no-cache"


def test_results_with_errors_are_never_cached(api_client, resolver_calls):
    # when
    for _ in range(2):
        assert get_graphql_errors(api_client.post_graphql(BAD_FIRST_QUERY))[0]["extensions"]["code"] == "INVALID"
    # then
    assert resolver_calls["Query.errands"] == 2
    assert get_store().count("errand_list:*") == 0


def test_partial_result_is_not_cached_as_a_whole(api_client, resolver_calls):
    # given: a public field that succeeds next to a private one that fails for an anonymous caller
    RoleFactory(name="runner")
    query = "{ roles { name } myErrands { id } }"
    # when
    responses = [json.loads(api_client.post_graphql(query).content) for _ in range(2)]
    # then: the errors are recomputed every time, and no operation entry exists
    assert all(r["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED" for r in responses)
    assert resolver_calls["Query.myErrands"] == 2
    assert get_store().count("gql:*") == 0


def test_mutations_are_never_cached(user, api_client_for, resolver_calls):
    # given
    mutation = """
    mutation { createErrand(input: {title: "t", description: "d", category: "c", budget: "10.00",
      pickupAddress: "a", dropoffAddress: "b"}) { errand { id title } errors { code } } }
    """
    client = api_client_for(user)
    # when
    ids = [get_graphql_content(client.post_graphql(mutation))["data"]["createErrand"]["errand"]["id"] for _ in range(2)]
    # then
    assert ids[0] != ids[1]
    assert resolver_calls["Mutation.createErrand"] == 2


def test_field_without_policy_is_untouched(settings, board, api_client, resolver_calls):
    # given
    settings.GRAPHQL_CACHE_POLICIES = {k: v for k, v in settings.GRAPHQL_CACHE_POLICIES.items() if k != "Query.errands"}
    # when
    for _ in range(2):
        get_graphql_content(api_client.post_graphql(ERRANDS_IDS_QUERY))
    # then
    assert resolver_calls["Query.errands"] == 2
    assert get_store().count("*") == 0


def test_disabled_policy_and_disabled_cache_call_straight_through(settings, board, api_client, resolver_calls):
    # given
    policies = dict(settings.GRAPHQL_CACHE_POLICIES)
    policies["Query.errands"] = {**policies["Query.errands"], "enabled": False}
    settings.GRAPHQL_CACHE_POLICIES = policies
    # when
    for _ in range(2):
        get_graphql_content(api_client.post_graphql(ROLES_QUERY))
        get_graphql_content(api_client.post_graphql(ERRANDS_IDS_QUERY))
    settings.CACHE_ENABLED = False
    for _ in range(2):
        get_graphql_content(api_client.post_graphql(ROLES_QUERY))
    # then
    assert resolver_calls["Query.errands"] == 2
    assert resolver_calls["Query.roles"] == 3  # one miss, one hit, then two straight calls with the cache off


def test_concurrent_misses_run_the_resolver_once(
    board, resolver_calls, hold_fields, patient_cache, no_cache_debug, monkeypatch
):
    # given: 16 requests for the same field at once; the one computing it holds until the 15 others wait for it
    waiting = []
    wait_for = GenerationStore.wait_for

    def counted_wait_for(self, key, timeout):
        waiting.append(key)
        return wait_for(self, key, timeout)

    monkeypatch.setattr(GenerationStore, "wait_for", counted_wait_for)
    hold_fields({"errands"}, until=lambda: len(waiting) >= 15)
    query = "{ __typename errands { id title createdBy { username } } }"
    # when
    bodies = [response.content for response in concurrently(16, lambda: ApiClient().post_graphql(query))]
    # then
    assert len(bodies) == 16 and len(set(bodies)) == 1
    assert resolver_calls["Query.errands"] == 1


def test_concurrent_misses_compute_themselves_after_a_bounded_wait(settings, board, resolver_calls, hold_fields):
    # given: the first reader holds the key until the others, who wait 50 ms at most, have all computed themselves
    settings.CACHE_SINGLE_FLIGHT_WAIT = 0.05
    hold_fields({"errands"}, until=lambda: resolver_calls["Query.errands"] == 4)
    # when
    responses = concurrently(4, lambda: ApiClient().post_graphql("{ __typename errands { id } }"))
    statuses = [response.status_code for response in responses]
    # then: nobody waited forever; each gave up waiting and computed
    assert statuses == [200] * 4
    assert resolver_calls["Query.errands"] == 4


@pytest.mark.parametrize(
    ("query", "client", "reason"),
    [
        ("{ __typename }", "anonymous", None),
        ("{ myErrands { id } }", "anonymous", "anonymous viewer"),
        ("{ errands(first: -1) { id } }", "anonymous", "resolver raised"),
    ],
)
def test_debug_log_says_why_a_field_was_not_cached(caplog, api_client, query, client, reason):
    # given
    caplog.set_level("DEBUG", logger="core.cache.middleware")
    # when
    api_client.post_graphql(query)
    # then
    messages = [r.getMessage() for r in caplog.records if r.name == "core.cache.middleware"]
    if reason is None:
        assert messages == []  # introspection fields are not "fields without a policy"
    else:
        assert any(m.endswith(f"not cached: {reason}") for m in messages), messages


def test_debug_log_names_fields_without_policy_and_disabled_cache(settings, caplog, api_client):
    # given
    caplog.set_level("DEBUG", logger="core.cache.middleware")
    settings.GRAPHQL_CACHE_POLICIES = {"Query.roles": {"ttl": 5}}
    # when
    api_client.post_graphql("{ errands { id } }")
    settings.CACHE_ENABLED = False
    api_client.post_graphql("{ roles { id } }")
    # then
    messages = [r.getMessage() for r in caplog.records if r.name == "core.cache.middleware"]
    assert "field Query.errands not cached: no policy" in messages
    assert "field Query.roles not cached: cache disabled" in messages


def test_user_scoped_hit_costs_only_the_viewer_lookup(api_client_for, django_assert_num_queries):
    # given: the bearer token names the viewer, who is loaded once per request before the cache is asked
    alice = UserFactory()
    ErrandFactory.create_batch(3, created_by=alice)
    client = api_client_for(alice)
    get_graphql_content(client.post_graphql(MY_ERRANDS_QUERY))
    # when
    with django_assert_num_queries(1) as captured:
        response = client.post_graphql(MY_ERRANDS_QUERY)
    # then
    assert len(get_graphql_content(response)["data"]["myErrands"]) == 3
    assert "accounts_user" in captured.captured_queries[0]["sql"]


ERRANDS_TITLE_IF_QUERY = "query Board($full: Boolean!) { __typename errands { id title @include(if: $full) } }"


def test_a_variable_used_below_a_cached_field_is_part_of_its_key(api_client, resolver_calls):
    # given: the field's entry with titles
    ErrandFactory(title="Buy bread")
    with_titles = get_graphql_content(api_client.post_graphql(ERRANDS_TITLE_IF_QUERY, {"full": True}))
    assert with_titles["data"]["errands"][0]["title"] == "Buy bread"

    # when: the same field whose selection the variable trims
    without = get_graphql_content(api_client.post_graphql(ERRANDS_TITLE_IF_QUERY, {"full": False}))

    # then
    assert "title" not in without["data"]["errands"][0]
    assert resolver_calls["Query.errands"] == 2
