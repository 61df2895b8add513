"""Every code example of the PayCore caching document (/work/shared/seeds/004_*.txt), run against this project.

PayCore's models do not exist here, so each example is the same code over the nearest RunAm data (the mapping is in
docs/caching.md, "From the seed documents"): loan products → open errands by currency, wallets → escrows, investment
products → errands by category, FAQs → banks, bill providers → people by role and country, exchange rates → roles,
transactions → a payer's recent escrows. `apps.common.cache` is `core.cache`; `await` on a queryset, which Django
cannot do, is an `async for`. The async examples stay async and run through asgiref's `async_to_sync`, so that their
ORM calls use this test's connection and their SQL is counted. Each must cache, hit without SQL, and be invalidated
the way the document says.
"""

import logging
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.db.models import Count, Sum
from django_redis import get_redis_connection

from accounts.models import Bank, Role, User, UserProfile
from core.cache import CacheManager, cacheable, invalidate_cache
from core.cache.conf import key_prefix
from core.factories import BankFactory, ErrandFactory, RoleFactory, UserFactory
from errands.models import Errand, ErrandStatus
from errands.services import errand_accept
from escrows.models import Escrow, EscrowStatus

# Transactional: inside a test transaction that has written, the cache is (rightly) neither read nor filled.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("cache_backend")]


class Calls:
    """Counts how often a cached function's body really ran."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def run(fn, *args, **kwargs):
    return async_to_sync(fn)(*args, **kwargs)


# --- Quick start 1: basic caching ---------------------------------------------------------------------------------

profile_calls = Calls()


@cacheable(key="user:{{user_id}}:profile", ttl=600)
async def get_user_profile(user_id: int):
    profile_calls()
    user = await User.objects.select_related("profile").aget(id=user_id)
    return user


@pytest.fixture(autouse=True)
def _zero_calls():
    for calls in (profile_calls, products_calls, summary_calls, category_calls, banks_calls, people_calls):
        calls.count = 0
    roles_calls.count = recent_calls.count = stats_calls.count = 0


def test_basic_caching_returns_the_user_from_the_cache(django_assert_num_queries):
    # given
    user = UserFactory(username="ada", profile__country="NG")
    result1 = run(get_user_profile, user.id)

    # when
    with django_assert_num_queries(0):
        result2 = run(get_user_profile, user.id)
        country = result2.profile.country  # loaded by select_related, kept in the entry

    # then
    assert result1 == result2 and (result2.username, country) == ("ada", "NG")
    assert profile_calls.count == 1
    assert get_user_profile.key(user.id) == f"{key_prefix()}:user:{user.id}:profile"  # "paycore:user:123:profile"


def test_basic_caching_is_dropped_by_any_write_to_the_user():
    # given
    user = UserFactory(username="ada")
    run(get_user_profile, user.id)

    # when
    User.objects.filter(id=user.id).update(first_name="Ada")

    # then
    assert run(get_user_profile, user.id).first_name == "Ada"
    assert profile_calls.count == 2


# --- Quick start 2 and example 1: caching with filters (loan products → open errands by currency) ----------------

products_calls = Calls()


@cacheable(key="errands:open:{{currency_code}}:{{filters}}", hash_params=["filters"], ttl=1800, debug=True)
async def get_open_errands(currency_code: str, filters: dict | None = None):
    products_calls()
    query = Errand.objects.filter(currency=currency_code, status=ErrandStatus.OPEN)
    if filters:
        if filters.get("min_amount"):
            query = query.filter(budget__gte=filters["min_amount"])
        if filters.get("max_amount"):
            query = query.filter(budget__lte=filters["max_amount"])
    return [errand async for errand in query.select_related("created_by").order_by("budget")]


@invalidate_cache(patterns=["errands:open:*"])
async def create_open_errand(data: dict):
    return await Errand.objects.acreate(**data)


@invalidate_cache(patterns=["errands:open:*"])
async def update_open_errand(errand_id: int, data: dict):
    errand = await Errand.objects.aget(id=errand_id)
    for key, value in data.items():
        setattr(errand, key, value)
    await errand.asave()
    return errand


def test_filters_are_hashed_into_the_key_and_cached(django_assert_num_queries):
    # given
    ErrandFactory(currency="NGN", budget=Decimal("2000"))
    ErrandFactory(currency="NGN", budget=Decimal("9000"))
    cheap = run(get_open_errands, "NGN", {"max_amount": 5000})

    # when
    with django_assert_num_queries(0):
        again = run(get_open_errands, "NGN", {"max_amount": 5000})
        creator = again[0].created_by.username

    # then
    assert [e.budget for e in again] == [e.budget for e in cheap] == [Decimal("2000.00")]
    assert creator == cheap[0].created_by.username
    assert len(run(get_open_errands, "NGN", {"max_amount": 10000})) == 2  # other filters, other key
    assert products_calls.count == 2
    key = get_open_errands.key("NGN", {"max_amount": 5000})
    assert key.startswith(f"{key_prefix()}:errands:open:NGN:~") and len(key.rsplit("~", 1)[1]) == 32


def test_debug_logs_how_the_call_was_keyed_and_served(caplog):
    # given
    ErrandFactory(currency="GHS")

    # when
    with caplog.at_level(logging.INFO, logger="core.cache.decorators"):
        run(get_open_errands, "GHS", {"is_active": True})
        run(get_open_errands, "GHS", {"is_active": True})

    # then
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("cache debug")]
    key = get_open_errands.key("GHS", {"is_active": True})
    assert "cache debug: key template errands:open:{{currency_code}}:{{filters}}" in lines
    assert f"cache debug: resolved key {key}" in lines
    assert f"cache debug: MISS {key}" in lines
    assert f"cache debug: stored {key} (TTL 1800s)" in lines
    assert f"cache debug: HIT {key}" in lines


@pytest.mark.parametrize("how", ["create", "update"])
def test_creating_or_updating_drops_every_filtered_list(how):
    # given
    creator = UserFactory()
    errand = ErrandFactory(currency="NGN", budget=Decimal("2000"))
    run(get_open_errands, "NGN", {"max_amount": 5000})

    # when
    if how == "create":
        run(
            create_open_errand,
            {
                "title": "Buy bread",
                "description": "Two loaves.",
                "category": "groceries",
                "budget": Decimal("3000"),
                "currency": "NGN",
                "pickup_address": "Market",
                "dropoff_address": "Home",
                "created_by": creator,
            },
        )
    else:
        run(update_open_errand, errand.id, {"budget": Decimal("4000")})

    # then
    budgets = [e.budget for e in run(get_open_errands, "NGN", {"max_amount": 5000})]
    assert budgets == ([Decimal("2000.00"), Decimal("3000.00")] if how == "create" else [Decimal("4000.00")])
    assert products_calls.count == 2


def test_a_list_of_errands_is_also_dropped_by_a_write_outside_the_decorators():
    # given
    ErrandFactory(currency="KES", budget=Decimal("500"))
    run(get_open_errands, "KES")

    # when
    ErrandFactory(currency="KES", budget=Decimal("700"))

    # then
    assert len(run(get_open_errands, "KES")) == 2


# --- Quick start 3: cache invalidation --------------------------------------------------------------------------


@invalidate_cache(patterns=["user:{{user_id}}:profile", "escrows:{{user_id}}:*"])
async def update_user_profile(user_id: int, data: dict):
    user = await User.objects.aget(id=user_id)
    for key, value in data.items():
        setattr(user, key, value)
    await user.asave()
    return user


def test_updating_a_profile_invalidates_its_patterns():
    # given
    user = UserFactory(first_name="Ada")
    run(get_user_profile, user.id)
    CacheManager.set(f"escrows:{user.id}:recent:10", ["an escrow"])

    # when
    run(update_user_profile, user.id, {"first_name": "Grace"})

    # then
    assert run(get_user_profile, user.id).first_name == "Grace"
    assert profile_calls.count == 2
    assert CacheManager.get(f"escrows:{user.id}:recent:10") is None
    assert update_user_profile.key(user.id, {}) == [
        f"{key_prefix()}:user:{user.id}:profile",
        f"{key_prefix()}:escrows:{user.id}:*",
    ]


# --- Quick start 4: manual cache operations -----------------------------------------------------------------------


def test_manual_cache_operations(django_assert_num_queries):
    # given
    user = UserFactory(username="ada")
    key = f"user:{user.id}:profile"
    user_data = {"username": "ada", "balance": Decimal("12.50")}

    # when / then
    assert CacheManager.set(key, user_data, ttl=600) is True
    assert CacheManager.get(key) == user_data
    CacheManager.delete(key)
    assert CacheManager.get(key) is None
    CacheManager.set(f"user:{user.id}:wallets", ["NGN"], ttl=600)
    CacheManager.delete_pattern(f"user:{user.id}:*")
    assert CacheManager.get(f"user:{user.id}:wallets") is None

    def fetch_user():
        return User.objects.get(id=user.id)

    fetched = CacheManager.get_or_set(key, fetch_user, ttl=600)
    with django_assert_num_queries(0):
        assert CacheManager.get_or_set(key, fetch_user, ttl=600) == fetched


# --- Example 2: wallet summary → a payer's escrow summary ------------------------------------------------------------

summary_calls = Calls()


@cacheable(key="escrows:summary:{{user_id}}", ttl=120)
async def get_escrow_summary(user_id: int):
    summary_calls()
    escrows = [e async for e in Escrow.objects.filter(payer_id=user_id).select_related("errand")]
    funded = [e for e in escrows if e.status == EscrowStatus.FUNDED]
    return {
        "total_escrows": len(escrows),
        "total_funded": sum((e.amount for e in funded), Decimal("0")),
        "escrows": [
            {"id": str(e.id), "currency": e.currency, "amount": e.amount, "status": e.status, "errand": e.errand.title}
            for e in escrows
        ],
        "first_funded_id": str(funded[0].id) if funded else None,
    }


@invalidate_cache(
    patterns=["escrows:summary:{{user_id}}", "escrow:{{escrow_id}}", "escrows:{{user_id}}:recent:*"],
)
async def fund_escrow(user_id: int, escrow_id: int):
    escrow = await Escrow.objects.aget(id=escrow_id, payer_id=user_id)
    escrow.status = EscrowStatus.FUNDED
    await escrow.asave()
    return escrow


def test_escrow_summary_is_cached_and_dropped_by_funding(django_assert_num_queries):
    # given
    escrow = ErrandFactory(assigned=True, budget=Decimal("1500")).escrow
    before = run(get_escrow_summary, escrow.payer_id)
    with django_assert_num_queries(0):
        assert run(get_escrow_summary, escrow.payer_id) == before

    # when
    run(fund_escrow, escrow.payer_id, escrow.id)

    # then
    after = run(get_escrow_summary, escrow.payer_id)
    assert (before["total_funded"], after["total_funded"]) == (Decimal("0"), Decimal("1500.00"))
    assert summary_calls.count == 2


# --- Example 3: investment products → errands by currency and category -------------------------------------------

category_calls = Calls()


@cacheable(key="errands:category:{{currency_code}}:{{category}}", ttl=3600)
async def get_errands_in_category(currency_code: str, category: str | None = None):
    category_calls()
    query = Errand.objects.filter(currency=currency_code, status=ErrandStatus.OPEN)
    if category:
        query = query.filter(category=category)
    return [errand async for errand in query.order_by("id")]


@invalidate_cache(patterns=["errands:category:*"])
async def update_errand_in_category(errand_id: int, data: dict):
    errand = await Errand.objects.aget(id=errand_id)
    for key, value in data.items():
        setattr(errand, key, value)
    await errand.asave()
    return errand


def test_errands_by_category_are_cached_and_dropped_by_an_update(django_assert_num_queries):
    # given
    errand = ErrandFactory(currency="NGN", category="pharmacy", title="Collect a prescription")
    run(get_errands_in_category, "NGN", "pharmacy")
    with django_assert_num_queries(0):
        assert [e.title for e in run(get_errands_in_category, "NGN", "pharmacy")] == ["Collect a prescription"]

    # when
    run(update_errand_in_category, errand.id, {"title": "Collect two prescriptions"})

    # then
    assert [e.title for e in run(get_errands_in_category, "NGN", "pharmacy")] == ["Collect two prescriptions"]
    assert category_calls.count == 2


# --- Example 4: FAQs by category → banks by country ----------------------------------------------------------------

banks_calls = Calls()


@cacheable(key="banks:{{country}}", ttl=3600)
async def get_banks_by_country(country: str):
    banks_calls()
    banks = Bank.objects.filter(country=country).order_by("name")
    return [{"id": str(b.id), "name": b.name, "code": b.code, "country": b.country} async for b in banks]


@cacheable(key="banks:all", ttl=3600)
async def get_all_banks():
    banks_calls()
    banks = Bank.objects.order_by("country", "name")
    return [{"id": str(b.id), "name": b.name, "code": b.code, "country": b.country} async for b in banks]


@invalidate_cache(patterns=["banks:*"])
async def create_or_update_bank(bank_id: int | None = None, data: dict | None = None):
    if bank_id:
        bank = await Bank.objects.aget(id=bank_id)
        for key, value in data.items():
            setattr(bank, key, value)
        await bank.asave()
    else:
        bank = await Bank.objects.acreate(**data)
    return bank


def test_banks_by_country_and_all_banks_are_cached_and_dropped_together(django_assert_num_queries):
    # given
    BankFactory(country="NG", code="044", name="Access Bank")
    run(get_banks_by_country, "NG"), run(get_all_banks)
    with django_assert_num_queries(0):
        assert len(run(get_banks_by_country, "NG")) == len(run(get_all_banks)) == 1

    # when
    run(create_or_update_bank, data={"country": "NG", "code": "058", "name": "Guaranty Trust Bank"})

    # then
    assert len(run(get_banks_by_country, "NG")) == len(run(get_all_banks)) == 2
    assert banks_calls.count == 4


# --- Example 5: bill providers → people by role and country --------------------------------------------------------

people_calls = Calls()


@cacheable(key="people:{{role}}:{{country_code}}", ttl=7200)
async def get_people(role: str | None = None, country_code: str | None = None):
    people_calls()
    query = UserProfile.objects.filter(user__is_active=True)
    if role:
        query = query.filter(role__name=role)
    if country_code:
        query = query.filter(country=country_code)
    profiles = query.select_related("user", "role").order_by("user__username")
    return [{"username": p.user.username, "country": p.country, "role": p.role.name} async for p in profiles]


@invalidate_cache(patterns=["people:*"])
async def update_person(profile_id: int, data: dict):
    profile = await UserProfile.objects.aget(id=profile_id)
    for key, value in data.items():
        setattr(profile, key, value)
    await profile.asave()
    return profile


def test_people_by_role_and_country_are_cached_and_dropped_by_an_update(django_assert_num_queries):
    # given
    runner = RoleFactory(name="runner")
    bob = UserFactory(username="bob", profile__country="GH", profile__role=runner)
    run(get_people, "runner", "GH")
    with django_assert_num_queries(0):
        assert run(get_people, "runner", "GH") == [{"username": "bob", "country": "GH", "role": "runner"}]

    # when
    run(update_person, bob.profile.id, {"country": "KE"})

    # then
    assert run(get_people, "runner", "GH") == []
    assert people_calls.count == 2


# --- Example 6: exchange rates → roles --------------------------------------------------------------------------

roles_calls = Calls()


@cacheable(key="roles:all", ttl=1800)
async def get_all_roles():
    roles_calls()
    return {role.name: {"description": role.description} async for role in Role.objects.order_by("name")}


@invalidate_cache(patterns=["roles:*", "escrows:summary:*"])
async def update_role_descriptions(descriptions: dict):
    for name, text in descriptions.items():
        role = await Role.objects.filter(name=name).afirst()
        if role:
            role.description = text
            await role.asave()
    return descriptions


def test_roles_are_cached_and_dropped_with_the_summaries(django_assert_num_queries):
    # given
    RoleFactory(name="runner", description="Runs errands.")
    escrow = ErrandFactory(assigned=True).escrow
    run(get_all_roles), run(get_escrow_summary, escrow.payer_id)
    with django_assert_num_queries(0):
        assert run(get_all_roles) == {"runner": {"description": "Runs errands."}}

    # when
    run(update_role_descriptions, {"runner": "Runs errands, gets paid."})

    # then
    assert run(get_all_roles) == {"runner": {"description": "Runs errands, gets paid."}}
    run(get_escrow_summary, escrow.payer_id)
    assert (roles_calls.count, summary_calls.count) == (2, 2)


def test_roles_are_also_dropped_by_an_admin_or_orm_write():
    # given: `roles:all` is in the `roles` family, which every Role write bumps
    RoleFactory(name="runner", description="Runs errands.")
    run(get_all_roles)

    # when
    Role.objects.filter(name="runner").update(description="Edited in admin.")

    # then
    assert run(get_all_roles)["runner"] == {"description": "Edited in admin."}


# --- Example 7: recent transactions → a payer's recent escrows -----------------------------------------------------

recent_calls = Calls()


@cacheable(key="escrows:{{user_id}}:recent:{{limit}}", ttl=60)
async def get_recent_escrows(user_id: int, limit: int = 10):
    recent_calls()
    escrows = Escrow.objects.filter(payer_id=user_id).select_related("errand").order_by("-created_at", "-id")[:limit]
    return [
        {
            "id": str(e.id),
            "amount": e.amount,
            "currency": e.currency,
            "errand": e.errand.title,
            "status": e.status,
            "created_at": e.created_at.isoformat(),
        }
        async for e in escrows
    ]


@invalidate_cache(patterns=["escrows:{{user_id}}:recent:*", "escrows:summary:{{user_id}}"])
async def record_escrow(user_id: int, errand_id: int, runner_id: int):
    runner = await User.objects.aget(id=runner_id)
    errand = await sync_to_async(errand_accept)(errand_id=errand_id, runner=runner)
    return await Escrow.objects.aget(errand_id=errand.id)


def test_recent_escrows_are_cached_and_dropped_by_a_new_one(django_assert_num_queries):
    # given
    customer, runner = UserFactory(), UserFactory()
    ErrandFactory(assigned=True, created_by=customer)
    open_errand = ErrandFactory(created_by=customer)
    run(get_recent_escrows, customer.id, limit=5)
    with django_assert_num_queries(0):
        assert len(run(get_recent_escrows, customer.id, limit=5)) == 1

    # when
    run(record_escrow, customer.id, open_errand.id, runner.id)

    # then
    assert len(run(get_recent_escrows, customer.id, limit=5)) == 2
    assert recent_calls.count == 2


# --- Example 8: dashboard statistics (aggregations) ----------------------------------------------------------------

stats_calls = Calls()


@cacheable(key="admin:stats:daily:{{date}}", ttl=600)
async def get_daily_stats(date: str):
    from datetime import datetime

    stats_calls()
    target_date = datetime.fromisoformat(date).date()
    escrow_stats = await Escrow.objects.filter(created_at__date=target_date).aaggregate(
        total_amount=Sum("amount"), total_count=Count("id")
    )
    user_stats = await User.objects.filter(date_joined__date=target_date).aaggregate(new_users=Count("id"))
    return {
        "date": date,
        "escrows": {"total_amount": escrow_stats["total_amount"] or Decimal("0"), "count": escrow_stats["total_count"]},
        "users": {"new_users": user_stats["new_users"]},
    }


def test_daily_stats_are_cached(django_assert_num_queries):
    # given: aggregates show no rows, so the document bounds them by their TTL (10 minutes) alone
    ErrandFactory(assigned=True, budget=Decimal("250"))
    today = Escrow.objects.get().created_at.date().isoformat()
    first = run(get_daily_stats, today)

    # when
    with django_assert_num_queries(0):
        again = run(get_daily_stats, today)

    # then
    assert again == first and first["escrows"] == {"total_amount": Decimal("250.00"), "count": 1}
    assert stats_calls.count == 1


# --- Cache key best practices -----------------------------------------------------------------------------------


def test_a_wildcard_pattern_clears_every_cache_of_one_user_and_no_other():
    # given
    ada, bob = UserFactory(), UserFactory()
    run(get_user_profile, ada.id), run(get_user_profile, bob.id)

    # when
    CacheManager.invalidate("user:{{user_id}}:*", {"user_id": ada.id})

    # then
    run(get_user_profile, ada.id), run(get_user_profile, bob.id)
    assert profile_calls.count == 3


# --- Monitoring cache ------------------------------------------------------------------------------------------------


def test_monitoring_with_the_redis_client(redis_cache):
    # given
    user = UserFactory()
    run(get_user_profile, user.id)
    redis_conn = get_redis_connection("default")
    key = f"{key_prefix()}:user:{user.id}:profile"

    # when
    user_keys = redis_conn.keys(f"{key_prefix()}:user:*")
    entry = redis_conn.get(key).decode()
    memory_info = redis_conn.info("memory")

    # then: KEYS, GET, TTL as in the document; GET shows our entry (generations, then the JSON value)
    assert key.encode() in user_keys
    assert "\n" in entry and f'"id",{user.id}' not in entry and str(user.id) in entry.split("\n", 1)[1]
    assert 0 < redis_conn.ttl(key) <= 600
    assert memory_info["used_memory_human"]
    redis_conn.delete(key)
    run(get_user_profile, user.id)
    assert profile_calls.count == 2


# --- Testing ------------------------------------------------------------------------------------------------------


def test_the_documents_own_test():
    # given
    user = UserFactory()
    CacheManager.delete(f"{key_prefix()}:user:{user.id}:profile")

    # when
    result1 = run(get_user_profile, user_id=user.id)  # miss: queries the database
    result2 = run(get_user_profile, user_id=user.id)  # hit: no database query

    # then
    assert result1 == result2
    cached = CacheManager.get(f"{key_prefix()}:user:{user.id}:profile")
    assert cached is not None and cached == user
