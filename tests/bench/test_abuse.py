"""Hostile input, CI size: bench_abuse against this tree alone (no baseline), with 1 s cache TTLs and 60 unique
requests. Counts only: statuses, credential checks, keys left, whole-response entries; never time or memory."""

import pytest

from tests.bench.conftest import run_script

USERS = 10


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict:
    """One run for the tests below."""
    out = tmp_path_factory.mktemp("abuse") / "results.json"
    scale = ["--unique", "60", "--ttl", "1", "--wait", "3", "--users", str(USERS), "--errands", "40"]
    return run_script("bench_abuse", "--baseline-ref", "", "--timeout", "20", *scale, results=out)


@pytest.fixture
def cases(results) -> dict[str, dict]:
    return {case["name"]: case for case in results["sides"]["head"]["cases"]}


def test_every_hostile_request_gets_a_clear_4xx_and_none_a_5xx(cases):
    # when: every case of the bench was sent (see the fixture)
    # then
    assert [name for name, case in cases.items() if case["server_errors"]] == []
    assert {name: case["statuses"] for name, case in cases.items() if case["unclear"]} == {}
    hostile = [case for case in cases.values() if case["expect"] == "4xx"]
    assert len(hostile) >= 15
    assert all(status.startswith("4") for case in hostile for status in case["statuses"])


def test_thirty_aliased_password_guesses_are_refused_after_the_configured_attempts(cases):
    # when
    login = cases["30 aliased tokenAuth guesses"]

    # then: not every guess reaches a password check
    assert login["server_errors"] == 0
    assert login["password_checks"] < 30


def test_unique_anonymous_requests_leave_no_key_beyond_their_ttl_and_a_minute(results, cases):
    # given: the unique requests did store entries
    unique = [case for case in cases.values() if case["batch"]]
    assert sum(case["requests"] for case in unique) == 60
    assert all(case["new_keys"] > 0 for case in unique)

    # then: a few seconds after the 1 s TTLs, whatever they added that is still there expires within the minute a read
    # gives the keys it creates (the full bench waits TTL + 65 s and finds none left)
    settled = results["sides"]["head"]["settled"]
    assert settled["unique_keys_left_without_ttl"] == 0
    assert settled["unique_keys_left_longest_ttl_ms"] <= 61_000


def test_roles_asked_by_many_users_and_anonymously_is_one_whole_response_entry(cases):
    # when
    roles = next(case for name, case in cases.items() if name.startswith("roles as"))

    # then
    assert roles["statuses"] == {"200": USERS + 1}
    assert roles["whole_response_entries"] == 1
