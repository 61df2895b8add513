"""Writes on people: profiles, and signing in."""

from __future__ import annotations

import re
import unicodedata

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import transaction
from django.http import HttpRequest

from accounts.models import Bank, User, UserProfile
from core.auth import token_for_user
from core.errors import NUL_PROBLEM, UNAUTHENTICATED, DomainError, InvalidInput, has_nul
from core.throttle import Hit, Limit, Throttled, client_address, throttle_hit

_COUNTRY = re.compile(r"^[A-Z]{2}$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{5,30}$")
_ACCOUNT_NUMBER = re.compile(r"^[0-9]{6,20}$")


def login_attempt_begin(*, request: HttpRequest | None, username: str) -> Hit:
    """Count one sign-in attempt against `username` and the client's address, before any password is checked.

    Throttled when either has had its LOGIN_MAX_ATTEMPTS(_PER_ADDRESS) in the current window. Refund the returned
    hit when the password turns out correct: a sign-in that succeeds is not a guess.
    """
    window = settings.LOGIN_ATTEMPT_WINDOW
    # Spellings that could reach one account share a counter, so variants of a name cannot multiply attempts.
    name = unicodedata.normalize("NFKC", username).casefold()
    limits = [Limit(scope="login:user", value=name, attempts=settings.LOGIN_MAX_ATTEMPTS, window=window)]
    if request is not None:
        limits.append(
            Limit(
                scope="login:address",
                value=client_address(request),
                attempts=settings.LOGIN_MAX_ATTEMPTS_PER_ADDRESS,
                window=window,
            )
        )
    hit = throttle_hit(limits)
    if hit.retry_after is not None:
        raise Throttled(
            f"Too many sign-in attempts for this username or from this address. "
            f"Try again in {hit.retry_after} seconds.",
            retry_after=hit.retry_after,
        )
    return hit


def token_obtain(*, request: HttpRequest | None, username: str, password: str) -> str:
    """A bearer token for valid credentials; UNAUTHENTICATED otherwise (never saying which part was wrong), or
    THROTTLED (`Throttled`) without checking the password once the username or address is over its limit."""
    attempt = login_attempt_begin(request=request, username=username)
    # A NUL cannot be in a username, and PostgreSQL would refuse the lookup.
    user = None if has_nul(username, password) else authenticate(request, username=username, password=password)
    if user is None:
        raise DomainError(UNAUTHENTICATED, "Please enter a correct username and password.")
    attempt.refund()
    return token_for_user(user)


def profile_ensure(*, user: User) -> UserProfile:
    """The user's profile, created empty if missing (the post_save signal calls this for every new user)."""
    profile, _ = UserProfile.objects.get_or_create(user=user)
    return profile


@transaction.atomic
def profile_update(
    *,
    user: User,
    phone: str | None = None,
    country: str | None = None,
    bank_code: str | None = None,
    account_number: str | None = None,
) -> UserProfile:
    """Change the given fields (None = leave as is). bankCode "" removes the bank.

    The bank must be in the profile's country (after the change): payouts go to a bank in the runner's country.
    """
    profile_ensure(user=user)
    profile = UserProfile.objects.select_for_update().get(user=user)
    problems: dict[str, str] = {}

    if phone is not None:
        phone = phone.strip()
        if phone and not _PHONE.match(phone):
            problems["phone"] = "Enter a phone number of digits, optionally starting with +, e.g. +2348012345678."
        else:
            profile.phone = phone
    if country is not None:
        country = country.strip().upper()
        if country and not _COUNTRY.match(country):
            problems["country"] = "Use an ISO 3166-1 alpha-2 country code, e.g. NG."
        else:
            profile.country = country
    if account_number is not None:
        account_number = account_number.strip()
        if account_number and not _ACCOUNT_NUMBER.match(account_number):
            problems["accountNumber"] = "An account number is 6 to 20 digits."
        else:
            profile.account_number = account_number
    if has_nul(bank_code):
        problems["bankCode"] = NUL_PROBLEM
    elif bank_code is not None:
        bank_code = bank_code.strip()
        if not bank_code:
            profile.bank = None
        elif not profile.country:
            problems.setdefault("country", "Set your country before choosing a bank.")
        else:
            bank = Bank.objects.filter(country=profile.country, code=bank_code).first()
            if bank is None:
                problems["bankCode"] = f"No bank with code {bank_code!r} in {profile.country}."
            else:
                profile.bank = bank
    if "country" not in problems and profile.bank is not None and profile.bank.country != profile.country:
        where = profile.country or "your country"
        problems["bankCode"] = f"Your bank is in {profile.bank.country}; choose a bank in {where}."

    # Error fields use the GraphQL input names: they are what a client sees in `errors[].field`.
    if problems:
        raise InvalidInput(problems)
    profile.save()
    return profile
