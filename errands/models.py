"""Errands on the public board."""

from decimal import Decimal

from django.conf import settings
from django.db import models

from core.cache.invalidation import TrackedManager, TrackedModel

MAX_BUDGET = Decimal("10000000")


class Currency(models.TextChoices):
    NGN = "NGN", "Nigerian naira"
    GHS = "GHS", "Ghanaian cedi"
    KES = "KES", "Kenyan shilling"
    ZAR = "ZAR", "South African rand"
    USD = "USD", "US dollar"


class ErrandStatus(models.TextChoices):
    OPEN = "OPEN", "Open"
    ASSIGNED = "ASSIGNED", "Assigned"
    IN_PROGRESS = "IN_PROGRESS", "In progress"
    COMPLETED = "COMPLETED", "Completed"
    CANCELLED = "CANCELLED", "Cancelled"


class ErrandManager(TrackedManager):
    pass


class Errand(TrackedModel):
    title = models.CharField(max_length=200)
    description = models.TextField()
    category = models.CharField(max_length=50)
    status = models.CharField(max_length=20, choices=ErrandStatus.choices, default=ErrandStatus.OPEN)
    budget = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, choices=Currency.choices, default=Currency.NGN)
    pickup_address = models.CharField(max_length=255)
    dropoff_address = models.CharField(max_length=255)
    deadline = models.DateTimeField(null=True, blank=True)
    # PROTECT: an errand may hold money in escrow; deleting a person must not make it vanish.
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="errands_created")
    runner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="errands_run"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ErrandManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The board: newest first, optionally filtered by status or category.
            models.Index(fields=["-created_at", "-id"], name="errand_newest"),
            models.Index(fields=["status", "-created_at", "-id"], name="errand_status_newest"),
            models.Index(fields=["category", "-created_at", "-id"], name="errand_category_newest"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(budget__gt=0) & models.Q(budget__lte=MAX_BUDGET), name="errand_budget_in_range"
            ),
            models.CheckConstraint(condition=models.Q(status__in=ErrandStatus.values), name="errand_status_valid"),
            models.CheckConstraint(condition=models.Q(currency__in=Currency.values), name="errand_currency_valid"),
            models.CheckConstraint(
                condition=models.Q(runner__isnull=True) | ~models.Q(runner=models.F("created_by")),
                name="errand_runner_not_creator",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=[ErrandStatus.OPEN, ErrandStatus.CANCELLED])
                | models.Q(runner__isnull=False),
                name="errand_accepted_has_runner",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"
