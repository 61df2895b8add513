"""Demo data for `make run`: people, roles, banks and a board of errands with consistent escrows.

Idempotent: people, roles and banks are looked up before being created, and errands are only generated when
the demo people have none yet, from a fixed random seed, inside one transaction (a failed run leaves nothing).
"""

from datetime import timedelta
from decimal import Decimal

import factory.random
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from core.factories import (
    DEFAULT_PASSWORD,
    AdminUserFactory,
    BankFactory,
    ErrandFactory,
    RoleFactory,
    UserFactory,
)
from errands.models import Currency, Errand
from escrows.models import Escrow

DEMO_PASSWORD = DEFAULT_PASSWORD
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "runam-admin-pass"
RANDOM_SEED = "runam-demo"

ROLES = {
    "customer": "Posts errands and pays for them through escrow.",
    "runner": "Accepts errands and is paid when they are done.",
    "support": "RunAm staff who resolve disputes.",
}
BANKS = {
    "NG": [("044", "Access Bank"), ("058", "Guaranty Trust Bank"), ("011", "First Bank of Nigeria"),
           ("057", "Zenith Bank"), ("033", "United Bank for Africa")],
    "GH": [("040100", "GCB Bank"), ("130100", "Ecobank Ghana"), ("190100", "Stanbic Bank Ghana"),
           ("030100", "Absa Bank Ghana")],
    "KE": [("01", "KCB Bank"), ("68", "Equity Bank"), ("11", "Co-operative Bank of Kenya"), ("07", "NCBA Bank")],
}  # fmt: skip
PEOPLE = [
    # username, country, currency, role, bank code, phone
    ("alice", "NG", Currency.NGN, "customer", "044", "+2348012345678"),
    ("bob", "GH", Currency.GHS, "runner", "040100", "+233201234567"),
    ("carol", "KE", Currency.KES, "runner", "68", "+254712345678"),
]
ERRAND_IDEAS = {
    "delivery": ("Deliver a parcel to {place}", "Small box, fragile. Hand it to the receptionist."),
    "groceries": ("Weekly groceries from {place}", "List in the chat: rice, tomatoes, eggs, bread, milk."),
    "pharmacy": ("Pick up a prescription at {place}", "Prescription already paid; bring the receipt."),
    "documents": ("Collect signed documents from {place}", "Envelope with three copies; keep it dry."),
    "laundry": ("Drop laundry at {place}", "Two bags; ask for the express service."),
    "cleaning": ("Help clean a flat near {place}", "Two rooms and a kitchen; supplies provided."),
    "queueing": ("Queue for me at {place}", "Hold a place in line until I arrive, about two hours."),
    "shopping": ("Buy a phone charger at {place}", "USB-C, at least 20 W; keep the receipt."),
}
DEMO_DESCRIPTIONS = sorted({description for _title, description in ERRAND_IDEAS.values()})
PLACES = ("the mall", "the central market", "the bank branch", "the post office", "the pharmacy on Main Street",
          "the university gate", "the bus terminal", "the embassy", "the supermarket", "the hospital")  # fmt: skip
# (trait, weight): a board that is mostly open, with every stage of the lifecycle represented.
STAGES = (
    ("open", 40),
    ("assigned", 10),
    ("in_progress", 12),
    ("completed", 8),
    ("paid", 18),
    ("cancelled", 7),
    ("refunded", 5),
)
BUDGETS = {Currency.NGN: (2_000, 150_000), Currency.GHS: (50, 2_000), Currency.KES: (300, 15_000)}


class Command(BaseCommand):
    help = "Create demo people, roles, banks, errands and escrows (idempotent) and print the credentials."

    def add_arguments(self, parser):
        parser.add_argument("--errands", type=int, default=300, help="How many errands to create (default 300).")

    @transaction.atomic
    def handle(self, *args, errands: int, **options):
        factory.random.reseed_random(RANDOM_SEED)
        roles = {name: RoleFactory(name=name, description=text) for name, text in ROLES.items()}
        banks = {
            (country, code): BankFactory(country=country, code=code, name=name)
            for country, rows in BANKS.items()
            for code, name in rows
        }
        people = [
            self._person(
                username, DEMO_PASSWORD, country=country, role=roles[role], bank=banks[(country, code)], phone=phone
            )
            for username, country, _currency, role, code, phone in PEOPLE
        ]
        admin = self._person(ADMIN_USERNAME, ADMIN_PASSWORD, factory_class=AdminUserFactory, role=roles["support"])

        # Demo errands carry one of the generated descriptions; errands the demo people made since (through the
        # API, say) are theirs, not demo data.
        theirs = Errand.objects.filter(created_by__in=people)
        existing = theirs.filter(description__in=DEMO_DESCRIPTIONS).count()
        if existing:
            others = theirs.count() - existing
            also = f" ({others} other errand{'s' if others != 1 else ''} by the demo people left alone)"
            self.stdout.write(f"Errands: {existing} demo errands already there, none added{also if others else ''}.")
        else:
            self._errands(people, errands)
            self.stdout.write(f"Errands: created {errands}, with their escrows.")

        self.stdout.write(self.style.SUCCESS("Demo data ready. Sign in with:"))
        for person in people:
            self.stdout.write(f"  {person.username:<8} password {DEMO_PASSWORD}")
        self.stdout.write(f"  {admin.username:<8} password {ADMIN_PASSWORD}  (staff + superuser: /admin/)")

    def _person(self, username: str, password: str, factory_class=UserFactory, **profile) -> User:
        # Names the sign-in page and the admin header can show: not the factory's invented ones.
        names = {"first_name": "" if factory_class is AdminUserFactory else username.title(), "last_name": ""}
        user = factory_class(
            username=username, **names, **{f"profile__{name}": value for name, value in profile.items()}
        )
        changed = [name for name, value in names.items() if getattr(user, name) != value]
        for name in changed:
            setattr(user, name, names[name])
        if factory_class is AdminUserFactory and not (user.is_staff and user.is_superuser):
            user.is_staff = user.is_superuser = True
            changed += ["is_staff", "is_superuser"]
        if not user.check_password(password):
            user.set_password(password)
            changed.append("password")
        if changed:
            user.save(update_fields=changed)
        return user

    def _errands(self, people: list[User], count: int) -> None:
        rng = factory.random.randgen
        now = timezone.now()
        traits, weights = zip(*STAGES, strict=True)
        for index in range(count):
            creator = people[index % len(people)]
            runner = people[(index + 1 + (index // len(people)) % (len(people) - 1)) % len(people)]
            currency = PEOPLE[index % len(people)][2]
            low, high = BUDGETS[currency]
            category = rng.choice(tuple(ERRAND_IDEAS))
            title, description = ERRAND_IDEAS[category]
            stage = rng.choices(traits, weights)[0]
            created_at = now - timedelta(minutes=rng.randint(5, 60 * 24 * 60))
            live = stage in ("open", "assigned", "in_progress")
            errand = ErrandFactory(
                title=title.format(place=rng.choice(PLACES)),
                description=description,
                category=category,
                currency=currency,
                budget=Decimal(rng.randint(low, high)),
                created_by=creator,
                runner=None if stage in ("open", "cancelled") else runner,
                deadline=(now if live else created_at) + timedelta(days=rng.randint(1, 7)),
                created_at=created_at,
                **({} if stage == "open" else {stage: True}),
            )
            Escrow.objects.filter(errand=errand).update(created_at=created_at + timedelta(minutes=30))
