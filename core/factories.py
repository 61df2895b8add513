"""Every factory-boy factory, in one place: the tests and `manage.py seed_demo` build data with these.

Errand traits give consistent lifecycles (runner, status and escrow agree):
    ErrandFactory()                    OPEN, no runner, no escrow
    ErrandFactory(assigned=True)       ASSIGNED, escrow PENDING
    ErrandFactory(in_progress=True)    IN_PROGRESS, escrow FUNDED
    ErrandFactory(completed=True)      COMPLETED, escrow FUNDED (awaiting release)
    ErrandFactory(paid=True)           COMPLETED, escrow RELEASED
    ErrandFactory(cancelled=True)      CANCELLED before anyone accepted, no escrow
    ErrandFactory(refunded=True)       CANCELLED after acceptance, escrow REFUNDED
"""

from datetime import timedelta

import factory
from django.utils import timezone
from factory import fuzzy

from accounts.models import Bank, Role, User
from errands.models import Currency, Errand, ErrandStatus
from escrows.models import Escrow, EscrowStatus

DEFAULT_PASSWORD = "runam-demo-pass"
CATEGORIES = ("delivery", "groceries", "pharmacy", "documents", "laundry", "cleaning", "queueing", "shopping")


class RoleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Role
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"role-{n}")
    description = factory.Faker("sentence")


class BankFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Bank
        django_get_or_create = ("country", "code")

    name = factory.Sequence(lambda n: f"Bank {n}")
    code = factory.Sequence(lambda n: f"{n:03d}")
    country = "NG"


class UserFactory(factory.django.DjangoModelFactory):
    """A user with DEFAULT_PASSWORD. Set profile fields with `profile__<field>=...` (the profile itself comes
    from the post_save signal)."""

    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password(DEFAULT_PASSWORD)

    @factory.post_generation
    def profile(user, create, extracted, **fields):
        if create and fields:
            for name, value in fields.items():
                setattr(user.profile, name, value)
            user.profile.save()


class StaffUserFactory(UserFactory):
    username = factory.Sequence(lambda n: f"staff{n}")
    is_staff = True


class AdminUserFactory(StaffUserFactory):
    username = factory.Sequence(lambda n: f"admin{n}")
    is_superuser = True


class ErrandFactory(factory.django.DjangoModelFactory):
    """An OPEN errand; see the module docstring for the lifecycle traits. `created_at=` backdates it."""

    class Meta:
        model = Errand
        skip_postgeneration_save = True

    title = factory.Faker("sentence", nb_words=5)
    description = factory.Faker("paragraph")
    category = factory.Iterator(CATEGORIES)
    status = ErrandStatus.OPEN
    budget = fuzzy.FuzzyDecimal(500, 50_000, precision=2)
    currency = Currency.NGN
    pickup_address = factory.Faker("street_address")
    dropoff_address = factory.Faker("street_address")
    deadline = factory.LazyFunction(lambda: timezone.now() + timedelta(days=3))
    created_by = factory.SubFactory(UserFactory)
    runner = None

    class Params:
        assigned = factory.Trait(
            status=ErrandStatus.ASSIGNED,
            runner=factory.SubFactory(UserFactory),
            escrow=factory.RelatedFactory("core.factories.EscrowFactory", "errand", status=EscrowStatus.PENDING),
        )
        in_progress = factory.Trait(
            status=ErrandStatus.IN_PROGRESS,
            runner=factory.SubFactory(UserFactory),
            escrow=factory.RelatedFactory("core.factories.EscrowFactory", "errand", status=EscrowStatus.FUNDED),
        )
        completed = factory.Trait(
            status=ErrandStatus.COMPLETED,
            runner=factory.SubFactory(UserFactory),
            escrow=factory.RelatedFactory("core.factories.EscrowFactory", "errand", status=EscrowStatus.FUNDED),
        )
        paid = factory.Trait(
            status=ErrandStatus.COMPLETED,
            runner=factory.SubFactory(UserFactory),
            escrow=factory.RelatedFactory("core.factories.EscrowFactory", "errand", status=EscrowStatus.RELEASED),
        )
        cancelled = factory.Trait(status=ErrandStatus.CANCELLED)
        refunded = factory.Trait(
            status=ErrandStatus.CANCELLED,
            runner=factory.SubFactory(UserFactory),
            escrow=factory.RelatedFactory("core.factories.EscrowFactory", "errand", status=EscrowStatus.REFUNDED),
        )

    @classmethod
    def _create(cls, model_class, *args, created_at=None, **kwargs):
        errand = super()._create(model_class, *args, **kwargs)
        if created_at is not None:
            # auto_now_add ignores a given value on insert; backdating is an update.
            model_class.objects.filter(pk=errand.pk).update(created_at=created_at, updated_at=created_at)
            errand.created_at = errand.updated_at = created_at
        return errand


class EscrowFactory(factory.django.DjangoModelFactory):
    """An escrow consistent with its errand (amount = budget, payer = creator, payee = runner).

    Alone it builds an ASSIGNED errand for itself; prefer ErrandFactory's traits, which pick matching statuses.
    """

    class Meta:
        model = Escrow

    errand = factory.SubFactory(ErrandFactory, status=ErrandStatus.ASSIGNED, runner=factory.SubFactory(UserFactory))
    amount = factory.LazyAttribute(lambda escrow: escrow.errand.budget)
    currency = factory.LazyAttribute(lambda escrow: escrow.errand.currency)
    status = EscrowStatus.PENDING
    payer = factory.LazyAttribute(lambda escrow: escrow.errand.created_by)
    payee = factory.LazyAttribute(lambda escrow: escrow.errand.runner)
