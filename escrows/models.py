"""Money held for an errand between acceptance and completion."""

import secrets

from django.conf import settings
from django.db import models

from core.cache.invalidation import TrackedManager, TrackedModel
from errands.models import Currency, Errand


def new_reference() -> str:
    return f"ESC-{secrets.token_hex(6).upper()}"


class EscrowStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    FUNDED = "FUNDED", "Funded"
    RELEASED = "RELEASED", "Released"
    REFUNDED = "REFUNDED", "Refunded"


class EscrowManager(TrackedManager):
    pass


class Escrow(TrackedModel):
    # One escrow per errand (the OneToOne is a unique constraint); PROTECT keeps money records.
    errand = models.OneToOneField(Errand, on_delete=models.PROTECT, related_name="escrow")
    reference = models.CharField(max_length=32, unique=True, default=new_reference, editable=False)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, choices=Currency.choices)
    status = models.CharField(max_length=20, choices=EscrowStatus.choices, default=EscrowStatus.PENDING)
    # Not indexed alone: the (payer|payee, -created_at) indexes below serve both lookups and order.
    payer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="escrows_paid", db_index=False
    )
    payee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="escrows_received", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = EscrowManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["payer", "-created_at"], name="escrow_payer_newest"),
            models.Index(fields=["payee", "-created_at"], name="escrow_payee_newest"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="escrow_amount_positive"),
            models.CheckConstraint(condition=models.Q(status__in=EscrowStatus.values), name="escrow_status_valid"),
            models.CheckConstraint(condition=models.Q(currency__in=Currency.values), name="escrow_currency_valid"),
            models.CheckConstraint(condition=~models.Q(payer=models.F("payee")), name="escrow_payer_not_payee"),
        ]

    def __str__(self) -> str:
        return self.reference
