"""Reads on people, roles and banks."""

from __future__ import annotations

from accounts.models import Bank, Role, User
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
    return list(Bank.objects.filter(country=country.strip().upper()).order_by("name", "id"))


def role_list() -> list[Role]:
    return list(Role.objects.order_by("name"))
