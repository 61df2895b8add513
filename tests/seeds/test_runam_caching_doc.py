"""Every code example of the RunAm caching document (/work/shared/seeds/000_*.txt), run against this project.

Imports are the document's (`core.cache_utils`); each example must cache, hit without SQL, and be invalidated the
way the document says. Where the project differs on purpose, docs/caching.md ("From the seed documents") says so.
"""

import json
from io import StringIO

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Bank, User, UserProfile
from accounts.selectors import bank_list
from core.cache import make_key
from core.cache.conf import key_prefix
from core.cache.keys import epoch_key
from core.cache.store import get_store
from core.cache_utils import (
    CacheManager,
    cache_queryset,
    cache_result,
    cache_user_data,
    get_cache_key,
    get_cached_user_data,
    invalidate_user_cache,
)
from core.factories import BankFactory, ErrandFactory, UserFactory
from errands.models import Errand
from tests.fixtures.api import ApiClient, get_graphql_content

# Transactional: inside a test transaction that has written, the cache is (rightly) neither read nor filled.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("cache_backend")]

ERRANDS_QUERY = "query { errands(first: 10) { id title } }"
MY_ESCROWS_QUERY = "query { myEscrows { reference status amount } }"
BANKS_QUERY = 'query { banks(country: "NG") { name code } }'


class Calls:
    """Counts how often a cached function's body really ran."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


# --- Decorator: @cache_result ---------------------------------------------------------------------------------


@pytest.fixture
def get_user_profile():
    calls = Calls()

    @cache_result(timeout=600, key_prefix="user_profile")
    def get_user_profile(user_id):
        calls()
        return UserProfile.objects.get(user_id=user_id)

    get_user_profile.calls = calls
    return get_user_profile


def test_cache_result_caches_a_user_profile(get_user_profile, django_assert_num_queries):
    # given
    user = UserFactory(profile__country="GH")
    first = get_user_profile(user.id)

    # when
    with django_assert_num_queries(0):
        again = get_user_profile(user.id)

    # then
    assert get_user_profile.calls.count == 1
    assert isinstance(again, UserProfile) and again == first and again.country == "GH"
    assert get_user_profile.key(user.id) == f"{key_prefix()}:user_profile:{user.id}"


def test_cache_result_invalidate_drops_the_entry(get_user_profile, django_assert_num_queries):
    # given
    user = UserFactory()
    get_user_profile(user.id)

    # when
    get_user_profile.invalidate(user.id)

    # then
    with django_assert_num_queries(1):
        get_user_profile(user.id)
    assert get_user_profile.calls.count == 2


@pytest.mark.parametrize("write", ["profile", "user"])
def test_user_profile_entries_are_dropped_by_user_and_profile_writes(get_user_profile, write):
    # given: "UserProfile: invalidates user cache, profile cache"; "User: invalidates user cache, user profile cache"
    user = UserFactory(profile__country="GH")
    get_user_profile(user.id)

    # when
    if write == "profile":
        UserProfile.objects.filter(user=user).update(country="KE")
    else:
        user.first_name = "Ada"
        user.save()

    # then
    get_user_profile(user.id)
    assert get_user_profile.calls.count == 2


# --- Helper functions ----------------------------------------------------------------------------------------------


def test_get_cache_key_builds_the_documented_key():
    # when
    key = get_cache_key("user", 42)

    # then
    assert key == f"{key_prefix()}:user:42"


def test_cache_user_data_is_read_back_and_invalidated():
    # given
    user = UserFactory()
    data = {"theme": "dark", "errands_posted": 3}

    # when
    stored = cache_user_data(user.id, data, timeout=3600)

    # then
    assert stored is True
    assert get_cached_user_data(user.id) == data
    invalidate_user_cache(user.id)
    assert get_cached_user_data(user.id) is None


def test_user_data_is_dropped_by_a_user_write():
    # given: "User: invalidates user cache"
    user = UserFactory()
    cache_user_data(user.id, {"theme": "dark"}, timeout=3600)

    # when
    user.email = "new@example.com"
    user.save()

    # then
    assert get_cached_user_data(user.id) is None


def test_cache_queryset_hits_without_sql_and_is_dropped_by_a_write(django_assert_num_queries):
    # given
    BankFactory(country="NG", code="044", name="Access Bank")
    queryset = Bank.objects.filter(country="NG").order_by("code")
    cache_queryset(queryset, timeout=300)

    # when
    with django_assert_num_queries(0):
        results = cache_queryset(queryset, timeout=300)

    # then
    assert [bank.name for bank in results] == ["Access Bank"]
    BankFactory(country="NG", code="058", name="Guaranty Trust Bank")
    with django_assert_num_queries(1):
        assert len(cache_queryset(queryset, timeout=300)) == 2


def test_clear_all_forgets_everything():
    # given
    user = UserFactory()
    cache_user_data(user.id, {"theme": "dark"})
    CacheManager.set("banks_list:NG", ["Access Bank"])

    # when
    CacheManager.clear_all()

    # then
    assert get_cached_user_data(user.id) is None
    assert CacheManager.get("banks_list:NG") is None


# --- Automatic cache invalidation ------------------------------------------------------------------------------------


def _errand_write(errand: Errand) -> None:
    errand.title = "Changed"
    errand.save()


@pytest.mark.parametrize(
    ("template", "context"),
    [
        ("errand:{{errand_id}}", lambda e: {"errand_id": e.id}),  # "Errand: invalidates errand cache"
        ("user_errands:{{user_id}}", lambda e: {"user_id": e.created_by_id}),  # "user errands cache"
        ("user_errands:{{user_id}}", lambda e: {"user_id": e.runner_id}),
        ("errand_list:{{status}}", lambda e: {"status": "OPEN"}),  # "errand list cache"
    ],
)
def test_an_errand_write_drops_the_families_the_document_lists(template, context):
    # given: an entry of plain data (not the errand itself), so only the families can drop it
    errand = ErrandFactory(assigned=True)
    CacheManager.set(key_of(template, context(errand)), {"cached": True})

    # when
    _errand_write(errand)

    # then
    assert CacheManager.get(key_of(template, context(errand))) is None


@pytest.mark.parametrize(
    ("template", "context"),
    [
        ("escrow:{{escrow_id}}", lambda s: {"escrow_id": s.id}),  # "Escrow: invalidates escrow cache"
        ("user_escrows:{{user_id}}", lambda s: {"user_id": s.payer_id}),  # "user escrows cache"
        ("user_escrows:{{user_id}}", lambda s: {"user_id": s.payee_id}),
        ("errand:{{errand_id}}", lambda s: {"errand_id": s.errand_id}),  # "errand escrow cache"
    ],
)
def test_an_escrow_write_drops_the_families_the_document_lists(template, context):
    # given
    escrow = ErrandFactory(assigned=True).escrow
    CacheManager.set(key_of(template, context(escrow)), {"cached": True})

    # when
    escrow.status = "FUNDED"
    escrow.save()

    # then
    assert CacheManager.get(key_of(template, context(escrow))) is None


def key_of(template: str, context: dict) -> str:
    return make_key(template, context)


# --- Cached GraphQL queries ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "max_age", "scope"),
    [(ERRANDS_QUERY, 60, "public"), (MY_ESCROWS_QUERY, 300, "private"), (BANKS_QUERY, 86400, "public")],
)
def test_the_documented_graphql_queries_are_cached_for_their_ttl(query, max_age, scope, settings):
    # given
    settings.GRAPHQL_CACHE_DEBUG = True
    escrow = ErrandFactory(in_progress=True).escrow
    BankFactory(country="NG", code="044", name="Access Bank")
    client = ApiClient(escrow.payer)
    first = client.post_graphql(query)

    # when
    with CaptureQueriesContext(connection) as captured:
        again = client.post_graphql(query)

    # then: nothing but the viewer's own lookup (bearer authentication) touches the database
    assert get_graphql_content(again)["data"] == get_graphql_content(first)["data"]
    assert all('"accounts_user"' in q["sql"] and "LIMIT" in q["sql"].upper() for q in captured.captured_queries)
    report = json.loads(again.content)["extensions"]["cache"]
    assert report["operation"] == "HIT"
    assert [field["ttl"] for field in report["fields"]] == [max_age]
    # Browsers and proxies may keep it too, but must revalidate every reuse (ETag): the freshness rule holds there.
    assert again["Cache-Control"] == f"{scope}, no-cache"


@pytest.mark.parametrize("query", [ERRANDS_QUERY, MY_ESCROWS_QUERY, BANKS_QUERY])
def test_the_documented_graphql_queries_are_refreshed_by_writes(query):
    # given
    escrow = ErrandFactory(in_progress=True).escrow
    bank = BankFactory(country="NG", code="044", name="Access Bank")
    client = ApiClient(escrow.payer)
    before = get_graphql_content(client.post_graphql(query))

    # when
    Errand.objects.filter(pk=escrow.errand_id).update(title="Renamed")
    escrow.status = "RELEASED"
    escrow.save()
    bank.name = "Access Bank Plc"
    bank.save()

    # then
    assert get_graphql_content(client.post_graphql(query))["data"] != before["data"]


# --- Cache management -----------------------------------------------------------------------------------------------


def test_clear_cache_all_command_clears():
    # given
    CacheManager.set("errand_list:OPEN", [1, 2])

    # when
    call_command("clear_cache", "--all", stdout=StringIO())

    # then
    assert CacheManager.get("errand_list:OPEN") is None


def test_clear_cache_pattern_command_clears_the_user_family():
    # given
    user = UserFactory()
    cache_user_data(user.id, {"theme": "dark"})
    CacheManager.set("errand_list:OPEN", [1])

    # when
    out = StringIO()
    call_command("clear_cache", "--pattern", "user:*", stdout=out)

    # then
    assert get_cached_user_data(user.id) is None
    assert CacheManager.get("errand_list:OPEN") == [1]


def test_programmatic_management_get_stats_and_warm_up(django_assert_num_queries):
    # given
    BankFactory(country="NG", code="044", name="Access Bank")
    CacheManager.set("errand_list:OPEN", [1])
    CacheManager.get("errand_list:OPEN")

    # when
    stats = CacheManager.get_stats()
    warmed = CacheManager.warm_up()

    # then
    assert stats["families"]["errand_list"]["hits"] == 1
    assert {"banks", "roles"} <= set(warmed)
    with django_assert_num_queries(0):
        assert [bank.name for bank in bank_list(country="NG")] == ["Access Bank"]
    CacheManager.clear_all()
    assert CacheManager.get("errand_list:OPEN") is None


# --- Cache key patterns ---------------------------------------------------------------------------------------------


def test_the_documented_key_patterns_are_the_keys_the_project_uses():
    # given
    user = UserFactory()

    # when
    cache_user_data(user.id, {"theme": "dark"})

    # then
    assert CacheManager.get(f"user:{user.id}:data") == {"theme": "dark"}  # `user:{user_id}:data`
    families = {policy["family"] for policy in settings.GRAPHQL_CACHE_POLICIES.values()}
    assert families >= {
        "user_profile:{{user_id}}",
        "user_errands:{{user_id}}",
        "user_escrows:{{user_id}}",
        "errand:{{id}}",
        "banks_list:{{country}}",
    }
    assert any(family.startswith("errand_list") for family in families)


# --- Testing cache ----------------------------------------------------------------------------------------------------


def test_cache_hit_and_miss_example():
    # given
    calls = Calls()

    @cache_result(timeout=60)
    def test_function(value):
        calls()
        return value * 2

    # when
    result1 = test_function(5)  # executes the function
    result2 = test_function(5)  # returns the cached value

    # then
    assert result1 == result2 == 10
    assert calls.count == 1


def test_raw_cache_invalidation_example():
    # The document's own example runs on Django's cache API, outside our entries (see docs/caching.md).
    cache.set("test_key", "test_value", 60)
    assert cache.get("test_key") == "test_value"
    cache.delete("test_key")
    assert cache.get("test_key") is None


def test_connection_check_example():
    cache.set("test", "value", 60)
    assert cache.get("test") == "value"


def test_a_model_instance_is_stored_as_json_not_pickle():
    # given
    user = UserFactory(username="ada")

    # when
    CacheManager.get_or_set(f"user:{user.id}:profile", lambda: User.objects.get(id=user.id))

    # then: the raw entry is our header and JSON text (a raw cache.get sees exactly that; use CacheManager). Where it
    # is stored: under the prefix on one Redis, under its partition's hash tag on a cluster
    key = f"user:{user.id}:profile"
    raw = cache.get(get_store().stored_name(key, entry=key))
    assert isinstance(raw, str)
    header, payload = raw.split("\n", 1)
    assert get_store().stored_name(epoch_key(), entry=key) in header and '"ada"' in payload
