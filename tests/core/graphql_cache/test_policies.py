"""Cache policies come from one settings dict and are checked against the schema at start-up."""

import re

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured

from accounts.models import Bank
from core.cache.policies import root_policies

CONTRACT_DEFAULTS = {
    "Query.errands": (60, "public", "errand_list"),
    "Query.errand": (300, "public", "errand:{{id}}"),
    "Query.myErrands": (300, "user", "user_errands:{{user_id}}"),
    "Query.myEscrows": (300, "user", "user_escrows:{{user_id}}"),
    "Query.banks": (86400, "public", "banks_list:{{country}}"),
    "Query.roles": (3600, "public", "roles"),
    "Query.me": (3600, "user", "user_profile:{{user_id}}"),
}


def test_the_contract_defaults_are_the_seven_policies():
    # when
    policies = {p.coordinate: (p.ttl, p.scope, p.family) for p in root_policies().values()}
    # then
    assert policies == CONTRACT_DEFAULTS
    assert all(p.enabled for p in root_policies().values())


def test_ttls_come_from_the_environment(monkeypatch):
    # given
    import importlib

    import runam.settings as settings_module

    monkeypatch.setenv("CACHE_TIMEOUT_ERRAND_LIST", "7")
    monkeypatch.setenv("CACHE_TIMEOUT_ROLES", "11")
    # when
    reloaded = importlib.reload(settings_module)
    # then
    try:
        assert reloaded.GRAPHQL_CACHE_POLICIES["Query.errands"]["ttl"] == 7
        assert reloaded.GRAPHQL_CACHE_POLICIES["Query.roles"]["ttl"] == 11
    finally:
        monkeypatch.delenv("CACHE_TIMEOUT_ERRAND_LIST")
        monkeypatch.delenv("CACHE_TIMEOUT_ROLES")
        importlib.reload(settings_module)


def test_adding_a_policy_is_one_entry(settings):
    # given
    settings.GRAPHQL_CACHE_POLICIES = {"Query.roles": {"ttl": 5}}
    # when
    policy = root_policies()["roles"]
    # then
    assert (policy.ttl, policy.scope, policy.family) == (5, "public", "roles")


def test_a_ttl_of_one_second_is_a_policy(settings):
    # given
    settings.GRAPHQL_CACHE_POLICIES = {
        "Query.roles": {"ttl": 1, "http_max_age": 0},
        "Query.banks": {"ttl": 60, "http_max_age": 30, "stale_while_revalidate": 5},
    }
    # when
    roles, banks = root_policies()["roles"], root_policies()["banks"]
    # then
    assert (roles.ttl, roles.http_max_age, roles.stale_while_revalidate) == (1, 0, 0)
    assert (banks.ttl, banks.http_max_age, banks.stale_while_revalidate) == (60, 30, 5)


def test_a_dotted_placeholder_is_checked_by_its_argument(settings):
    # given
    settings.GRAPHQL_CACHE_POLICIES = {"Query.banks": {"family": "banks_list:{{country.upper}}"}}
    # when / then: the start-up check accepts it
    apps.get_app_config("core").ready()


@pytest.mark.parametrize(
    ("policies", "message"),
    [
        ({"Query.nope": {"ttl": 5}}, "'Query.nope' is not a field"),
        ({"Errand.title": {"ttl": 5}}, "root query coordinate"),
        ({"Query.roles": {"ttl": 5, "scope": "team"}}, "scope 'team'"),
        ({"Query.roles": {"ttl": 0}}, "ttl must be a positive int"),
        ({"Query.roles": {"ttl": "60"}}, "ttl must be a positive int"),
        ({"Query.me": {"scope": "user", "family": "user_profile"}}, "must contain {{user_id}}"),
        ({"Query.banks": {"family": "banks:{{countr}}"}}, "{{countr}} is neither an argument of the field (country)"),
        ({"Query.roles": {"family": "roles:{{id}}"}}, "{{id}} is neither an argument of the field (none)"),
        ({"Query.errands": {"family": "errand_list:{{state}}"}}, "(status, category, search, first, offset)"),
        ({"Query.roles": {"ttl": 5, "tll": 6}}, "unknown keys"),
        ({"Query.roles": {"family": "_internal"}}, "must be a key template"),
        ({"Query.roles": {"family": "roles:*"}}, "must be a key template"),
        ({"Query.roles": {"http_max_age": -1}}, "http_max_age must be an int >= 0"),
        ({"Query.roles": {"stale_while_revalidate": True}}, "stale_while_revalidate must be an int >= 0"),
    ],
)
def test_bad_policies_fail_at_start_up_with_a_clear_message(settings, policies, message):
    # given
    settings.GRAPHQL_CACHE_POLICIES = policies
    # when / then: the app start-up hook refuses them
    with pytest.raises(ImproperlyConfigured, match=re.escape(message)):
        apps.get_app_config("core").ready()


def test_a_tracked_model_without_the_tracking_queryset_is_refused(settings):
    # given: the session model's manager would let bulk writes slip past invalidation
    settings.CACHE_INVALIDATION = {**settings.CACHE_INVALIDATION, "sessions.Session": ["sessions"]}
    from core.cache.invalidation import invalidation_map

    invalidation_map.cache_clear()
    # when / then
    try:
        with pytest.raises(ImproperlyConfigured, match="TrackedQuerySet"):
            apps.get_app_config("core").ready()
    finally:
        invalidation_map.cache_clear()


@pytest.mark.django_db(transaction=True)
def test_each_write_signal_is_wired_once_however_often_the_app_starts(redis_cache, redis_round_trips):
    # given: the start-up hook run again (as it runs in every process; another test may have run it already)
    apps.get_app_config("core").ready()
    bank = Bank.objects.create(name="Access Bank", code="044", country="NG")
    redis_round_trips.reset()

    # when
    bank.name = "Access"
    bank.save()
    bank.delete()

    # then: one begin and one settle for the save, and for the delete (a doubled receiver costs more)
    assert redis_round_trips.count == 4
