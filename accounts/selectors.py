"""Reads on people, roles and banks."""

from __future__ import annotations

from django.conf import settings

from accounts.models import Bank, Role, User
from core.cache import cacheable, warmer
from core.errors import has_nul


def user_get_active(*, user_id: int) -> User | None:
    """An active user by id (bearer-token authentication), or None."""
    return User.objects.filter(pk=user_id, is_active=True).first()


def viewer_get(*, user_id: int) -> User | None:
    """The signed-in user with their profile, role and bank in one query."""
    return User.objects.select_related("profile", "profile__role", "profile__bank").filter(pk=user_id).first()


def bank_list(*, country: str) -> list[Bank]:
    if has_nul(country):
        return []  # no country code contains NUL (and PostgreSQL could not compare with it)
    return _banks_in(country.strip().upper())


# The data the RunAm docs call frequently accessed, cached under their seed families (every Bank or Role write bumps
# `banks_list` or `roles`, and each row's own generation), with the TTLs of their GraphQL fields, and filled ahead of
# traffic by `manage.py warm_cache`.
@cacheable(key="banks_list:{{country}}", ttl=settings.GRAPHQL_CACHE_POLICIES["Query.banks"]["ttl"])
def _banks_in(country: str) -> list[Bank]:
    return list(Bank.objects.filter(country=country).order_by("name", "id"))


@cacheable(key="roles", ttl=settings.GRAPHQL_CACHE_POLICIES["Query.roles"]["ttl"])
def role_list() -> list[Role]:
    return list(Role.objects.order_by("name"))


def bank_countries() -> list[str]:
    return list(Bank.objects.order_by("country").values_list("country", flat=True).distinct())


@warmer(name="banks")
def banks_warm() -> None:
    """Every country's bank list."""
    for country in bank_countries():
        bank_list(country=country)


@warmer(name="roles")
def roles_warm() -> None:
    role_list()
