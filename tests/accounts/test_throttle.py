"""Login throttling: tokenAuth and /admin/login/ attempts per username and per client address (docs/security.md)."""

import pytest
import redis
from django.contrib.auth.backends import ModelBackend
from django.core.management import call_command
from django.test import Client

from core import throttle
from core.cache.conf import key_prefix
from core.factories import DEFAULT_PASSWORD, StaffUserFactory, UserFactory
from core.throttle import Limit, throttle_hit
from tests.fixtures.api import get_graphql_content

pytestmark = pytest.mark.django_db

TOKEN_AUTH_MUTATION = """
mutation TokenAuth($username: String!, $password: String!) {
  tokenAuth(username: $username, password: $password) {
    token
    retryAfter
    errors { field code message }
  }
}
"""

# The attack: one request, thirty guesses.
THIRTY_ALIASED_TOKEN_AUTHS_MUTATION = (
    "mutation {\n"
    + "\n".join(
        f'  guess{n}: tokenAuth(username: "alice", password: "guess{n}") '
        "{ token retryAfter errors { code message } }"
        for n in range(30)
    )
    + "\n}"
)

TOKEN_AUTHS_IN_FRAGMENTS_MUTATION = """
mutation {
  ...Guesses
  ... on Mutation { third: tokenAuth(username: "alice", password: "guess3") { token errors { code } } }
}
fragment Guesses on Mutation {
  first: tokenAuth(username: "alice", password: "guess1") { token errors { code } }
  second: tokenAuth(username: "alice", password: "guess2") { token errors { code } }
}
"""

# What NFKC makes "alice" of; ModelBackend would look it up as a different username.
FULLWIDTH_ALICE = "\uff41\uff4c\uff49\uff43\uff45"
ADMIN_LOGIN_URL = "/admin/login/"
WINDOW = 900


@pytest.fixture
def password_checks(monkeypatch) -> list[str]:
    """The usernames whose password was checked, in order: each ModelBackend.authenticate call hashes a password
    (a dummy one for an unknown username)."""
    checked: list[str] = []
    original = ModelBackend.authenticate

    def counted(self, request, username=None, password=None, **kwargs):
        checked.append(username)
        return original(self, request, username=username, password=password, **kwargs)

    monkeypatch.setattr(ModelBackend, "authenticate", counted)
    return checked


@pytest.fixture
def limits(settings):
    """Small limits, and a clock at 100 s into a window, so that retryAfter is known exactly."""
    settings.LOGIN_MAX_ATTEMPTS = 3
    settings.LOGIN_MAX_ATTEMPTS_PER_ADDRESS = 5
    settings.LOGIN_ATTEMPT_WINDOW = WINDOW
    settings.TRUSTED_PROXY_COUNT = 0
    return settings


@pytest.fixture
def clock(monkeypatch):
    """The throttle's clock, 100 s into a window; `clock.advance(seconds)` moves it on."""

    class Clock:
        time = 2_000_000 * WINDOW + 100.0

        def advance(self, seconds: float) -> None:
            self.time += seconds

    fixed = Clock()
    monkeypatch.setattr(throttle, "now", lambda: fixed.time)
    return fixed


def token_auth(client, username: str, password: str, **extra) -> dict:
    response = client.post_graphql(TOKEN_AUTH_MUTATION, {"username": username, "password": password}, **extra)
    return get_graphql_content(response)["data"]["tokenAuth"]


def codes(payload: dict) -> list[str]:
    return [error["code"] for error in payload["errors"]]


def test_the_thirty_alias_login_is_refused_after_the_configured_attempts(
    cache_backend, limits, clock, api_client, password_checks
):
    # given
    UserFactory(username="alice")

    # when: the request, sent five times
    replies = [
        get_graphql_content(api_client.post_graphql(THIRTY_ALIASED_TOKEN_AUTHS_MUTATION))["data"] for _ in range(5)
    ]

    # then: one password checked per request, three in all, then THROTTLED with the seconds left in the window
    assert password_checks == ["alice"] * 3
    assert [codes(reply["guess0"]) for reply in replies] == [["UNAUTHENTICATED"]] * 3 + [["THROTTLED"]] * 2
    refused = replies[3]["guess0"]
    assert refused["token"] is None
    assert refused["retryAfter"] == WINDOW - 100
    assert f"Try again in {WINDOW - 100} seconds" in refused["errors"][0]["message"]
    others = [reply[f"guess{n}"] for reply in replies for n in range(1, 30)]
    assert {(error["code"], error["message"]) for payload in others for error in payload["errors"]} == {
        ("INVALID", "Only one tokenAuth per request: this one was not attempted.")
    }
    assert {payload["token"] for payload in others} == {None}


def test_aliases_inside_fragments_do_not_multiply_attempts(limits, api_client, password_checks):
    # given
    UserFactory(username="alice")

    # when
    data = get_graphql_content(api_client.post_graphql(TOKEN_AUTHS_IN_FRAGMENTS_MUTATION))["data"]

    # then: only the first in document order ran
    assert password_checks == ["alice"]
    assert codes(data["first"]) == ["UNAUTHENTICATED"]
    assert codes(data["second"]) == codes(data["third"]) == ["INVALID"]


def test_the_username_limit_holds_across_addresses(cache_backend, limits, clock, api_client, password_checks):
    # given
    UserFactory(username="alice")
    UserFactory(username="bob")

    # when: each guess from another address
    guesses = [token_auth(api_client, "alice", f"guess{n}", REMOTE_ADDR=f"198.51.100.{n}") for n in range(4)]
    right_password = token_auth(api_client, "alice", DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.9")
    bob = token_auth(api_client, "bob", DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.9")

    # then: the fourth guess and even the right password are refused unchecked; another user is unaffected
    assert [codes(guess) for guess in guesses] == [["UNAUTHENTICATED"]] * 3 + [["THROTTLED"]]
    assert codes(right_password) == ["THROTTLED"]
    assert right_password["token"] is None
    assert password_checks == ["alice"] * 3 + ["bob"]
    assert bob["errors"] == [] and bob["token"]


def test_spellings_of_one_username_share_its_limit(limits, clock, api_client, password_checks):
    # given
    UserFactory(username="alice")

    # when
    replies = [
        token_auth(api_client, name, "guess", REMOTE_ADDR=f"198.51.100.{n}")
        for n, name in enumerate(["alice", "ALICE", "Alice", FULLWIDTH_ALICE])
    ]

    # then
    assert [codes(reply) for reply in replies] == [["UNAUTHENTICATED"]] * 3 + [["THROTTLED"]]
    assert len(password_checks) == 3


def test_the_address_limit_holds_across_usernames(cache_backend, limits, clock, api_client, password_checks):
    # given
    UserFactory(username="carol")

    # when: five usernames tried from one address, then a sixth from it and one from elsewhere
    for n in range(5):
        token_auth(api_client, f"user{n}", "guess", REMOTE_ADDR="203.0.113.7")
    same_address = token_auth(api_client, "carol", DEFAULT_PASSWORD, REMOTE_ADDR="203.0.113.7")
    other_address = token_auth(api_client, "carol", DEFAULT_PASSWORD, REMOTE_ADDR="203.0.113.8")

    # then
    assert codes(same_address) == ["THROTTLED"]
    assert same_address["retryAfter"] == WINDOW - 100
    assert other_address["errors"] == [] and other_address["token"]
    assert password_checks == [f"user{n}" for n in range(5)] + ["carol"]


def test_a_correct_password_does_not_count(cache_backend, limits, clock, api_client, password_checks):
    # given: two wrong passwords of the three allowed
    UserFactory(username="alice")
    for n in range(2):
        token_auth(api_client, "alice", f"guess{n}")

    # when: more successful sign-ins than the limit, then two more guesses
    successes = [token_auth(api_client, "alice", DEFAULT_PASSWORD) for _ in range(4)]
    third_guess = token_auth(api_client, "alice", "guess2")
    fourth_guess = token_auth(api_client, "alice", "guess3")

    # then
    assert all(success["token"] and success["errors"] == [] for success in successes)
    assert all(success["retryAfter"] is None for success in successes)
    assert codes(third_guess) == ["UNAUTHENTICATED"]
    assert third_guess["retryAfter"] is None
    assert codes(fourth_guess) == ["THROTTLED"]
    assert len(password_checks) == 2 + 4 + 1


def test_a_new_window_allows_attempts_again(cache_backend, limits, clock, api_client, password_checks):
    # given: alice locked out 100 s into a window
    UserFactory(username="alice")
    for n in range(4):
        token_auth(api_client, "alice", f"guess{n}")
    clock.advance(WINDOW - 101)
    last_second = token_auth(api_client, "alice", DEFAULT_PASSWORD)

    # when
    clock.advance(1)
    next_window = token_auth(api_client, "alice", DEFAULT_PASSWORD)

    # then
    assert codes(last_second) == ["THROTTLED"]
    assert last_second["retryAfter"] == 1
    assert next_window["errors"] == [] and next_window["token"]
    assert len(password_checks) == 3 + 1


def test_forwarded_for_is_ignored_without_trusted_proxies(limits, clock, api_client, password_checks):
    # given: a client that invents a new X-Forwarded-For for every guess
    guesses = [
        token_auth(api_client, f"user{n}", "guess", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}", REMOTE_ADDR="203.0.113.7")
        for n in range(6)
    ]

    # then: all counted against its own address
    assert codes(guesses[-1]) == ["THROTTLED"]
    assert len(password_checks) == 5


def test_behind_a_trusted_proxy_the_address_it_saw_counts(limits, clock, api_client, password_checks):
    # given: one proxy (10.0.0.1) that appends its peer; the client forges what comes before
    limits.TRUSTED_PROXY_COUNT = 1
    for n in range(5):
        token_auth(
            api_client,
            f"user{n}",
            "guess",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 203.0.113.7",
            REMOTE_ADDR="10.0.0.1",
        )

    # when
    same_client = token_auth(
        api_client, "user9", "guess", HTTP_X_FORWARDED_FOR="192.0.2.99, 203.0.113.7", REMOTE_ADDR="10.0.0.1"
    )
    other_client = token_auth(api_client, "user9", "guess", HTTP_X_FORWARDED_FOR="203.0.113.8", REMOTE_ADDR="10.0.0.1")

    # then
    assert codes(same_client) == ["THROTTLED"]
    assert codes(other_client) == ["UNAUTHENTICATED"]
    assert len(password_checks) == 6


def test_an_ipv6_client_counts_by_its_64_block(limits, clock, api_client, password_checks):
    # when: a new address of one /64 for every guess, then one from another /64
    for n in range(6):
        token_auth(api_client, f"user{n}", "guess", REMOTE_ADDR=f"2001:db8:0:1::{n + 1:x}")
    other_block = token_auth(api_client, "user9", "guess", REMOTE_ADDR="2001:db8:0:2::1")

    # then
    assert len(password_checks) == 5 + 1
    assert codes(other_block) == ["UNAUTHENTICATED"]


def test_admin_login_is_locked_with_a_clear_message(cache_backend, limits, clock, password_checks):
    # given
    StaffUserFactory(username="boss")
    browser = Client()
    wrong = [browser.post(ADMIN_LOGIN_URL, {"username": "boss", "password": f"guess{n}"}) for n in range(3)]

    # when
    right = browser.post(ADMIN_LOGIN_URL, {"username": "boss", "password": DEFAULT_PASSWORD})

    # then: the form says why and for how long; nobody is signed in and the password was not checked
    assert all(b"Please enter the correct username and password" in page.content for page in wrong)
    assert right.status_code == 200
    message = f"Too many sign-in attempts for this username or from this address. Try again in {WINDOW - 100} seconds."
    assert message in right.content.decode()
    assert "_auth_user_id" not in browser.session
    assert password_checks == ["boss"] * 3


def test_admin_login_and_token_auth_share_their_counters(limits, clock, api_client, password_checks):
    # given: two guesses through the API
    StaffUserFactory(username="boss")
    for n in range(2):
        token_auth(api_client, "boss", f"guess{n}")
    browser = Client()

    # when
    third = browser.post(ADMIN_LOGIN_URL, {"username": "boss", "password": "guess2"})
    fourth = browser.post(ADMIN_LOGIN_URL, {"username": "boss", "password": DEFAULT_PASSWORD})

    # then
    assert b"Please enter the correct username and password" in third.content
    assert b"Too many sign-in attempts" in fourth.content
    assert len(password_checks) == 3


def test_a_successful_admin_login_does_not_count(limits, clock, password_checks):
    # given
    StaffUserFactory(username="boss")

    # when: more sign-ins than the limit
    pages = [Client().post(ADMIN_LOGIN_URL, {"username": "boss", "password": DEFAULT_PASSWORD}) for _ in range(5)]

    # then: every one signed in (a redirect to the admin index)
    assert [page.status_code for page in pages] == [302] * 5


def test_throttling_counts_per_process_while_redis_is_down(
    restartable_redis, limits, clock, api_client, password_checks
):
    # given
    UserFactory(username="alice")
    restartable_redis.stop()

    # when
    replies = [token_auth(api_client, "alice", f"guess{n}") for n in range(4)]

    # then: the limit still holds (in this process's memory) and no request failed
    assert [codes(reply) for reply in replies] == [["UNAUTHENTICATED"]] * 3 + [["THROTTLED"]]
    assert len(password_checks) == 3


def test_an_attempt_is_counted_before_its_password_is_checked(
    redis_cache, redis_url, limits, clock, api_client, monkeypatch
):
    # given: a password check that looks at the shared counters while it runs
    UserFactory(username="alice")
    server = redis.Redis.from_url(redis_url)
    seen_during_checks: list[list[int]] = []
    original = ModelBackend.authenticate

    def observed(self, request, **credentials):
        seen_during_checks.append(
            sorted(int(server.get(key)) for key in server.scan_iter(f"{key_prefix()}:_throttle:*"))
        )
        return original(self, request, **credentials)

    monkeypatch.setattr(ModelBackend, "authenticate", observed)

    # when
    token_auth(api_client, "alice", "guess0")
    token_auth(api_client, "alice", "guess1")

    # then: concurrent guesses could not all pass the limit before any of them was counted
    assert seen_during_checks == [[1, 1], [2, 2]]


def test_counters_live_in_the_shared_cache(redis_cache, redis_url, limits, clock, api_client):
    # given
    UserFactory(username="alice")

    # when
    token_auth(api_client, "alice", "guess")

    # then: two counters (username, address), each expiring with its window, none naming the username
    server = redis.Redis.from_url(redis_url)
    keys = sorted(key.decode() for key in server.scan_iter(f"{key_prefix()}:_throttle:*"))
    assert len(keys) == 2
    assert all("alice" not in key for key in keys)
    assert [int(server.get(key)) for key in keys] == [1, 1]
    assert all(0 < server.ttl(key) <= WINDOW for key in keys)


def test_clear_cache_all_unlocks_everyone_and_a_pattern_does_not(cache_backend, limits, clock, api_client):
    # given: alice locked out
    UserFactory(username="alice")
    for n in range(4):
        token_auth(api_client, "alice", f"guess{n}")

    # when
    call_command("clear_cache", "--pattern", "*")
    after_pattern = token_auth(api_client, "alice", DEFAULT_PASSWORD)
    call_command("clear_cache", "--all")
    after_all = token_auth(api_client, "alice", DEFAULT_PASSWORD)

    # then
    assert codes(after_pattern) == ["THROTTLED"]
    assert after_all["errors"] == [] and after_all["token"]


def test_counting_costs_one_round_trip_per_counter_once_the_window_has_begun(redis_cache, clock, redis_round_trips):
    # given
    limits = [
        Limit(scope="test:a", value="x", attempts=5, window=WINDOW),
        Limit(scope="test:b", value="y", attempts=5, window=WINDOW),
    ]

    throttle_hit([Limit(scope="test:warm-up", value="z", attempts=5, window=WINDOW)])  # opens the connection

    # when
    redis_round_trips.reset()
    throttle_hit(limits)
    first = redis_round_trips.count
    redis_round_trips.reset()
    throttle_hit(limits)
    then = redis_round_trips.count

    # then: a missing counter costs a failed INCR and a SET NX; an existing one a single INCR
    assert (first, then) == (4, 2)
