"""People: the user model, their profile (payout details), roles and banks."""

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.core.validators import RegexValidator
from django.db import models

from core.cache.invalidation import TrackedManager, TrackedModel, TrackedQuerySet

country_code_validator = RegexValidator(r"^[A-Z]{2}$", "Use an ISO 3166-1 alpha-2 country code, e.g. NG.")


class UserManager(DjangoUserManager.from_queryset(TrackedQuerySet)):
    """Explicit so that the caching work can give users a queryset class of its own."""


class User(AbstractUser, TrackedModel):
    objects = UserManager()


class RoleManager(TrackedManager):
    pass


class Role(TrackedModel):
    name = models.CharField(max_length=50, unique=True)
    description = models.TextField(blank=True)

    objects = RoleManager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class BankManager(TrackedManager):
    pass


class Bank(TrackedModel):
    name = models.CharField(max_length=100)
    code = models.CharField(max_length=20, help_text="The bank's clearing code, unique within its country.")
    country = models.CharField(max_length=2, validators=[country_code_validator], db_index=True)

    objects = BankManager()

    class Meta:
        ordering = ["country", "name"]
        constraints = [
            models.UniqueConstraint(fields=["country", "code"], name="bank_code_unique_per_country"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.country} {self.code})"


class UserProfileManager(TrackedManager):
    pass


class UserProfile(TrackedModel):
    """Created for every user (accounts.signals); blank strings mean "not given yet"."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="profile")
    phone = models.CharField(max_length=32, blank=True)
    country = models.CharField(max_length=2, blank=True, validators=[country_code_validator])
    role = models.ForeignKey(Role, null=True, blank=True, on_delete=models.SET_NULL, related_name="profiles")
    bank = models.ForeignKey(Bank, null=True, blank=True, on_delete=models.SET_NULL, related_name="profiles")
    account_number = models.CharField(max_length=20, blank=True)

    objects = UserProfileManager()

    def __str__(self) -> str:
        return f"Profile of {self.user}"
