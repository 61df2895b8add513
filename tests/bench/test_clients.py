"""Real clients (bench_clients at a small scale): Apollo Client 4 in Node and the Python gql client."""

import shutil

import pytest

pytestmark = pytest.mark.skipif(shutil.which("npm") is None, reason="Apollo Client runs on Node: npm is missing")


def test_apollo_client_4_and_gql_get_correct_data_and_apq_hits(run_bench):
    # when
    results = run_bench("bench_clients", "--errands", "10")

    # then: every scenario got its data
    by_name = {result["name"]: result for result in results["results"]}
    assert {name: result["ok"] for name, result in by_name.items()} == {
        "apq-post": True,
        "apq-get": True,
        "get-for-queries": True,
        "signed-in-apq": True,
        "gql-query": True,
        "gql-mutation": True,
    }
    # APQ as Apollo speaks it: unknown hash (PersistedQueryNotFound, 200), hash and text by POST, then the hash
    # alone is served
    statuses = [(w["method"], w["sentQuery"], w["status"]) for w in by_name["apq-get"]["wire"]]
    assert statuses == [("GET", False, 200), ("POST", True, 200), ("GET", False, 200)]
    assert [w["method"] for w in by_name["get-for-queries"]["wire"]] == ["GET", "GET"]
    # the second request of each of the four Apollo scenarios was a whole-response hit
    assert results["counters"]["gql|hit"] >= 4
