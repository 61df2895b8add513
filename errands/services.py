"""Writes on errands: the lifecycle of the contract README, each transition under a row lock."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from core.errors import (
    FORBIDDEN,
    INVALID_TRANSITION,
    NOT_FOUND,
    NUL_PROBLEM,
    DomainError,
    InvalidInput,
    has_nul,
)
from errands.models import MAX_BUDGET, Currency, Errand, ErrandStatus
from escrows.services import escrow_open, escrow_void

# Fields a creator may change while the errand is OPEN (service names; GraphQL names in _INPUT_NAMES).
EDITABLE_FIELDS = ("title", "description", "category", "budget", "pickup_address", "dropoff_address", "deadline")
_INPUT_NAMES = {"pickup_address": "pickupAddress", "dropoff_address": "dropoffAddress"}
_REQUIRED_TEXT = {"title": 200, "category": 50, "pickup_address": 255, "dropoff_address": 255}
_CENT = Decimal("0.01")


@transaction.atomic
def errand_create(
    *,
    creator: User,
    title: str,
    description: str,
    category: str,
    budget: Decimal,
    pickup_address: str,
    dropoff_address: str,
    currency: str | None = Currency.NGN,
    deadline: datetime | None = None,
) -> Errand:
    values = _clean(
        {
            "title": title,
            "description": description,
            "category": category,
            "budget": budget,
            "currency": Currency.NGN if currency is None else currency,
            "pickup_address": pickup_address,
            "dropoff_address": dropoff_address,
            "deadline": deadline,
        }
    )
    return Errand.objects.create(created_by=creator, **values)


@transaction.atomic
def errand_update(*, errand_id: int, user: User, changes: dict[str, Any]) -> Errand:
    """Apply `changes` (keys from EDITABLE_FIELDS; deadline None clears it). Creator only, OPEN only."""
    errand = _lock(errand_id)
    if errand.created_by_id != user.pk:
        raise DomainError(FORBIDDEN, "Only the errand's creator may edit it.")
    _require_status(errand, {ErrandStatus.OPEN}, "edited")
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable: {sorted(unknown)}")
    values = _clean(changes)
    for name, value in values.items():
        setattr(errand, name, value)
    errand.save(update_fields=[*values, "updated_at"])
    return errand


@transaction.atomic
def errand_accept(*, errand_id: int, runner: User) -> Errand:
    """OPEN → ASSIGNED, runner = `runner`, and a PENDING escrow for the budget. Exactly one runner wins a race."""
    errand = _lock(errand_id)
    if errand.created_by_id == runner.pk:
        raise DomainError(FORBIDDEN, "You cannot accept your own errand.")
    _require_status(errand, {ErrandStatus.OPEN}, "accepted")
    errand.runner = runner
    errand.status = ErrandStatus.ASSIGNED
    errand.save(update_fields=["runner", "status", "updated_at"])
    escrow_open(errand=errand)
    return errand


@transaction.atomic
def errand_complete(*, errand_id: int, user: User) -> Errand:
    errand = _lock(errand_id)
    if errand.runner_id != user.pk:
        raise DomainError(FORBIDDEN, "Only the errand's runner may complete it.")
    _require_status(errand, {ErrandStatus.IN_PROGRESS}, "completed")
    errand.status = ErrandStatus.COMPLETED
    errand.save(update_fields=["status", "updated_at"])
    return errand


@transaction.atomic
def errand_cancel(*, errand_id: int, user: User) -> Errand:
    """OPEN or ASSIGNED → CANCELLED by the creator; a PENDING escrow (nothing paid yet) becomes REFUNDED."""
    errand = _lock(errand_id)
    if errand.created_by_id != user.pk:
        raise DomainError(FORBIDDEN, "Only the errand's creator may cancel it.")
    _require_status(errand, {ErrandStatus.OPEN, ErrandStatus.ASSIGNED}, "cancelled")
    errand.status = ErrandStatus.CANCELLED
    errand.save(update_fields=["status", "updated_at"])
    escrow_void(errand=errand)
    return errand


def errand_check_admin_edit(*, errand: Errand | None, changes: dict[str, Any]) -> dict[str, str]:
    """Problems (by model field name) with an admin form's changed fields, under the API's rules: the money and
    text rules of createErrand/updateErrand, and budget, currency and creator fixed once the errand has left OPEN,
    because its escrow (payer = creator, amount = budget) was made from them."""
    problems: dict[str, str] = {}
    fixed = {"budget", "currency", "created_by"} & set(changes)
    if errand is not None and errand.status != ErrandStatus.OPEN and fixed:
        escrow = getattr(errand, "escrow", None)
        held = ""
        if escrow is not None:
            held = f" Its escrow {escrow.reference} is {escrow.status}, {escrow.amount} {escrow.currency}."
        for name in sorted(fixed):
            problems[name] = (
                f"This errand is {errand.status}: its {name.replace('_', ' ')} can only change while it is OPEN, "
                f"as through updateErrand.{held}"
            )
    checked = {name: value for name, value in changes.items() if name in (*EDITABLE_FIELDS, "currency")}
    try:
        _clean(checked)
    except InvalidInput as refused:
        names = {graphql: name for name, graphql in _INPUT_NAMES.items()}
        for field, message in refused.problems.items():
            problems.setdefault(names.get(field, field), message)
    return problems


def _lock(errand_id: int) -> Errand:
    # No select_related: PostgreSQL cannot lock the nullable side of an outer join (runner).
    errand = Errand.objects.select_for_update().filter(pk=errand_id).first()
    if errand is None:
        raise DomainError(NOT_FOUND, f"No errand with id {errand_id}.")
    return errand


def _require_status(errand: Errand, allowed: set[str], action: str) -> None:
    if errand.status not in allowed:
        expected = " or ".join(sorted(allowed))
        raise DomainError(
            INVALID_TRANSITION, f"This errand is {errand.status}; only an errand that is {expected} can be {action}."
        )


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    """Validated, normalized copies of the given errand fields, or InvalidInput naming every bad field."""
    problems: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    for name, value in values.items():
        field = _INPUT_NAMES.get(name, name)
        if has_nul(value):
            problems[field] = NUL_PROBLEM
        elif value is None and name != "deadline":
            problems[field] = "This field cannot be null."
        elif name in _REQUIRED_TEXT or name == "description":
            text = value.strip()
            limit = _REQUIRED_TEXT.get(name)
            if name != "description" and not text:
                problems[field] = "This field cannot be blank."
            elif limit and len(text) > limit:
                problems[field] = f"At most {limit} characters."
            else:
                cleaned[name] = text
        elif name == "budget":
            problem = _budget_problem(value)
            if problem:
                problems[field] = problem
            else:
                cleaned[name] = value.quantize(_CENT)
        elif name == "currency":
            if value not in Currency.values:
                problems[field] = f"Currency must be one of {', '.join(Currency.values)}."
            else:
                cleaned[name] = value
        elif name == "deadline":
            if value is not None and value <= timezone.now():
                problems[field] = "The deadline must be in the future."
            else:
                cleaned[name] = value
        else:
            cleaned[name] = value
    if problems:
        raise InvalidInput(problems)
    return cleaned


def _budget_problem(budget: Decimal) -> str | None:
    if not isinstance(budget, Decimal) or not budget.is_finite():
        return 'The budget must be a decimal number, e.g. "1500.00".'
    if budget <= 0:
        return "The budget must be greater than 0."
    if budget > MAX_BUDGET:
        return f"The budget must be at most {MAX_BUDGET:,}."
    if budget != budget.quantize(_CENT):
        return 'The budget has at most 2 decimal places (send it as a string, e.g. "1500.50").'
    return None
