"""Writes on escrows. Every transition locks the errand, then the escrow (always in that order: no deadlocks),
and re-checks the status inside the transaction, so that it happens exactly once under concurrency."""

from __future__ import annotations

from django.db import transaction

from accounts.models import User
from core.errors import FORBIDDEN, INVALID_TRANSITION, NOT_FOUND, DomainError
from errands.models import Errand, ErrandStatus
from escrows.models import Escrow, EscrowStatus


def escrow_open(*, errand: Errand) -> Escrow:
    """A PENDING escrow for an errand just accepted (called by errand_accept, inside its transaction)."""
    return Escrow.objects.create(
        errand=errand,
        amount=errand.budget,
        currency=errand.currency,
        payer_id=errand.created_by_id,
        payee_id=errand.runner_id,
    )


def escrow_void(*, errand: Errand) -> Escrow | None:
    """On cancelling an errand: a PENDING escrow (nothing paid in) becomes REFUNDED. Caller holds the errand lock."""
    escrow = Escrow.objects.select_for_update().filter(errand=errand, status=EscrowStatus.PENDING).first()
    if escrow is not None:
        escrow.status = EscrowStatus.REFUNDED
        escrow.save(update_fields=["status", "updated_at"])
    return escrow


@transaction.atomic
def escrow_fund(*, errand_id: int, user: User) -> Escrow:
    """The payer pays in: escrow PENDING → FUNDED, errand ASSIGNED → IN_PROGRESS."""
    errand = Errand.objects.select_for_update().filter(pk=errand_id).first()
    if errand is None:
        raise DomainError(NOT_FOUND, f"No errand with id {errand_id}.")
    if errand.created_by_id != user.pk:
        raise DomainError(FORBIDDEN, "Only the errand's creator (the payer) may fund its escrow.")
    escrow = Escrow.objects.select_for_update().filter(errand=errand).first()
    if escrow is None:
        raise DomainError(INVALID_TRANSITION, "This errand has no escrow yet: a runner must accept it first.")
    _require(escrow.status == EscrowStatus.PENDING, f"This escrow is {escrow.status}; only a PENDING one is funded.")
    _require(errand.status == ErrandStatus.ASSIGNED, f"This errand is {errand.status}; only an ASSIGNED one is funded.")
    escrow.status = EscrowStatus.FUNDED
    escrow.save(update_fields=["status", "updated_at"])
    errand.status = ErrandStatus.IN_PROGRESS
    errand.save(update_fields=["status", "updated_at"])
    escrow.errand = errand
    return escrow


@transaction.atomic
def escrow_release(*, escrow_id: int, user: User) -> Escrow:
    """Money to the payee: FUNDED → RELEASED, by the payer or staff, once the errand is COMPLETED."""
    errand, escrow = _lock(escrow_id, user)
    if not (user.is_staff or escrow.payer_id == user.pk):
        raise DomainError(FORBIDDEN, "Only the payer (or staff) may release this escrow.")
    _require(escrow.status == EscrowStatus.FUNDED, f"This escrow is {escrow.status}; only a FUNDED one is released.")
    _require(
        errand.status == ErrandStatus.COMPLETED,
        f"The errand is {errand.status}; an escrow is released only once its errand is COMPLETED.",
    )
    escrow.status = EscrowStatus.RELEASED
    escrow.save(update_fields=["status", "updated_at"])
    return escrow


@transaction.atomic
def escrow_refund(*, escrow_id: int, user: User) -> Escrow:
    """Money back to the payer: FUNDED → REFUNDED, by the payee or staff; the errand becomes CANCELLED."""
    errand, escrow = _lock(escrow_id, user)
    if not (user.is_staff or escrow.payee_id == user.pk):
        raise DomainError(FORBIDDEN, "Only the payee (or staff) may refund this escrow.")
    _require(escrow.status == EscrowStatus.FUNDED, f"This escrow is {escrow.status}; only a FUNDED one is refunded.")
    escrow.status = EscrowStatus.REFUNDED
    escrow.save(update_fields=["status", "updated_at"])
    errand.status = ErrandStatus.CANCELLED
    errand.save(update_fields=["status", "updated_at"])
    return escrow


def _lock(escrow_id: int, user: User) -> tuple[Errand, Escrow]:
    """Errand then escrow, both locked. An escrow the user may not see is NOT_FOUND, as if it did not exist."""
    errand_id = Escrow.objects.filter(pk=escrow_id).values_list("errand_id", flat=True).first()
    errand = Errand.objects.select_for_update().filter(pk=errand_id).first() if errand_id else None
    escrow = Escrow.objects.select_for_update().filter(pk=escrow_id).first() if errand else None
    if escrow is None or not (user.is_staff or user.pk in (escrow.payer_id, escrow.payee_id)):
        raise DomainError(NOT_FOUND, f"No escrow with id {escrow_id}.")
    escrow.errand = errand
    return errand, escrow


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise DomainError(INVALID_TRANSITION, message)
