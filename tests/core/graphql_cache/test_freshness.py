"""The freshness rule, path by path: a read after a committed write never sees data older than the write.

Each test caches a read, writes by one path, and reads again. Both backends (cache_backend), committed data.
"""

import json
from html.parser import HTMLParser

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client

from accounts.models import Bank, Role, User, UserProfile
from core.factories import AdminUserFactory, BankFactory, ErrandFactory, EscrowFactory, RoleFactory, UserFactory
from errands.models import Errand
from escrows.models import Escrow
from tests.fixtures.api import get_graphql_content

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("cache_backend"), pytest.mark.cluster]

BOARD_QUERY = "{ errands(first: 50) { id title status createdBy { username } runner { username } } }"
BOARD_WITH_TYPENAME_QUERY = "{ __typename errands(first: 50) { id title createdBy { username } } }"
ERRAND_QUERY = "query One($id: ID!) { errand(id: $id) { id title status createdBy { username } } }"
MY_ERRANDS_QUERY = "{ myErrands { id title status } }"
MY_ESCROWS_QUERY = "{ myEscrows { id status amount errand { title } } }"
BANKS_QUERY = "query Banks($country: String!) { banks(country: $country) { name code } }"
ROLES_QUERY = "{ roles { name description } }"
ME_QUERY = "{ me { username email profile { phone country role { name } bank { name } } } }"
UPDATE_ERRAND_MUTATION = """
mutation Update($id: ID!, $title: String) { updateErrand(id: $id, input: {title: $title}) { errors { code } } }
"""


def board(client, query=BOARD_QUERY) -> dict[str, dict]:
    return {e["id"]: e for e in get_graphql_content(client.post_graphql(query))["data"]["errands"]}


def errand_title(client, errand_id) -> str | None:
    data = get_graphql_content(client.post_graphql(ERRAND_QUERY, {"id": str(errand_id)}))["data"]
    return data["errand"] and data["errand"]["title"]


@pytest.fixture
def errand():
    return ErrandFactory(title="before")


# --- writes through the API and the ORM ----------------------------------------------------------------------------


def test_mutation_refreshes_list_and_detail(errand, api_client, api_client_for):
    # given
    board(api_client)
    errand_title(api_client, errand.pk)
    # when
    response = api_client_for(errand.created_by).post_graphql(UPDATE_ERRAND_MUTATION, {"id": errand.pk, "title": "new"})
    assert get_graphql_content(response)["data"]["updateErrand"]["errors"] == []
    # then
    assert board(api_client)[str(errand.pk)]["title"] == "new"
    assert errand_title(api_client, errand.pk) == "new"


def test_orm_save_refreshes_every_query_that_shows_the_row(errand, api_client, api_client_for):
    # given
    owner = api_client_for(errand.created_by)
    board(api_client), board(api_client, BOARD_WITH_TYPENAME_QUERY), errand_title(api_client, errand.pk)
    get_graphql_content(owner.post_graphql(MY_ERRANDS_QUERY))
    # when
    errand.title = "after"
    errand.save()
    # then
    assert board(api_client)[str(errand.pk)]["title"] == "after"
    assert board(api_client, BOARD_WITH_TYPENAME_QUERY)[str(errand.pk)]["title"] == "after"
    assert errand_title(api_client, errand.pk) == "after"
    assert get_graphql_content(owner.post_graphql(MY_ERRANDS_QUERY))["data"]["myErrands"][0]["title"] == "after"


def test_username_change_shows_in_every_cached_list_that_shows_the_user(api_client):
    # given: the user appears nested, as creator and as runner, in lists cached under other families
    alice = UserFactory(username="alice")
    created = ErrandFactory(created_by=alice)
    run = ErrandFactory(assigned=True, runner=alice)
    board(api_client), board(api_client, BOARD_WITH_TYPENAME_QUERY), errand_title(api_client, created.pk)
    # when
    alice.username = "alice2"
    alice.save()
    # then
    listed = board(api_client)
    assert listed[str(created.pk)]["createdBy"]["username"] == "alice2"
    assert listed[str(run.pk)]["runner"]["username"] == "alice2"
    assert board(api_client, BOARD_WITH_TYPENAME_QUERY)[str(created.pk)]["createdBy"]["username"] == "alice2"
    data = get_graphql_content(api_client.post_graphql(ERRAND_QUERY, {"id": str(created.pk)}))["data"]
    assert data["errand"]["createdBy"]["username"] == "alice2"


def test_profile_role_and_bank_changes_refresh_me(api_client_for):
    # given
    role, bank = RoleFactory(name="runner"), BankFactory(name="Access", country="NG")
    user = UserFactory(profile__phone="1", profile__role=role, profile__bank=bank)
    client = api_client_for(user)
    get_graphql_content(client.post_graphql(ME_QUERY))
    # when: the profile, then the role and bank it points at, change
    UserProfile.objects.filter(user=user).update(phone="2")
    role.name = "courier"
    role.save()
    Bank.objects.filter(pk=bank.pk).update(name="Access Bank")
    # then
    me = get_graphql_content(client.post_graphql(ME_QUERY))["data"]["me"]
    assert me["profile"] == {"phone": "2", "country": "", "role": {"name": "courier"}, "bank": {"name": "Access Bank"}}


def test_queryset_update_refreshes(errand, api_client):
    # given
    board(api_client), errand_title(api_client, errand.pk)
    # when
    Errand.objects.filter(pk=errand.pk).update(title="updated")
    User.objects.filter(pk=errand.created_by_id).update(username="renamed")
    # then
    assert board(api_client)[str(errand.pk)] | {} == {
        "id": str(errand.pk),
        "title": "updated",
        "status": "OPEN",
        "createdBy": {"username": "renamed"},
        "runner": None,
    }
    assert errand_title(api_client, errand.pk) == "updated"


def test_bulk_create_and_bulk_update_refresh(errand, api_client):
    # given
    board(api_client)
    # when
    Errand.objects.bulk_create([Errand(**_errand_fields(errand, title=f"bulk {i}")) for i in range(3)])
    # then
    titles = {e["title"] for e in board(api_client).values()}
    assert {"bulk 0", "bulk 1", "bulk 2"} <= titles
    # when
    rows = list(Errand.objects.filter(title__startswith="bulk"))
    for row in rows:
        row.title = row.title.replace("bulk", "mass")
    Errand.objects.bulk_update(rows, ["title"])
    # then
    titles = {e["title"] for e in board(api_client).values()}
    assert {"mass 0", "mass 1", "mass 2"} <= titles and not any(t.startswith("bulk") for t in titles)


def test_deletes_refresh(api_client):
    # given
    kept, deleted_one, deleted_many = ErrandFactory(), ErrandFactory(), ErrandFactory.create_batch(2)
    board(api_client), errand_title(api_client, deleted_one.pk)
    # when
    deleted_one.delete()
    Errand.objects.filter(pk__in=[e.pk for e in deleted_many]).delete()
    # then
    assert set(board(api_client)) == {str(kept.pk)}
    assert errand_title(api_client, deleted_one.pk) is None


def test_escrow_changes_refresh_my_escrows(api_client_for):
    # given
    escrow = EscrowFactory()
    payer, payee = api_client_for(escrow.payer), api_client_for(escrow.payee)
    for client in (payer, payee):
        get_graphql_content(client.post_graphql(MY_ESCROWS_QUERY))
    # when
    Escrow.objects.filter(pk=escrow.pk).update(status="FUNDED")
    # then
    for client in (payer, payee):
        assert get_graphql_content(client.post_graphql(MY_ESCROWS_QUERY))["data"]["myEscrows"][0]["status"] == "FUNDED"
    # when: a new escrow for the same payer
    second = EscrowFactory(errand__created_by=escrow.payer, payer=escrow.payer)
    # then
    ids = {e["id"] for e in get_graphql_content(payer.post_graphql(MY_ESCROWS_QUERY))["data"]["myEscrows"]}
    assert ids == {str(escrow.pk), str(second.pk)}


def test_banks_and_roles_refresh_whatever_the_spelling_of_the_country(api_client):
    # given
    BankFactory(country="NG", name="Access")
    for country in ("NG", "ng"):
        get_graphql_content(api_client.post_graphql(BANKS_QUERY, {"country": country}))
    get_graphql_content(api_client.post_graphql(ROLES_QUERY))
    # when
    BankFactory(country="NG", name="Zenith")
    Role.objects.create(name="support", description="helps")
    # then
    for country in ("NG", "ng"):
        banks = get_graphql_content(api_client.post_graphql(BANKS_QUERY, {"country": country}))["data"]["banks"]
        assert [b["name"] for b in banks] == ["Access", "Zenith"]
    roles = get_graphql_content(api_client.post_graphql(ROLES_QUERY))["data"]["roles"]
    assert {"name": "support", "description": "helps"} in roles


def test_management_command_writes_refresh(api_client, tmp_path):
    # given
    errand = ErrandFactory(title="before")
    board(api_client)
    fixture = tmp_path / "errand.json"
    call_command("dumpdata", "errands.errand", f"--pks={errand.pk}", output=str(fixture))
    dumped = json.loads(fixture.read_text())
    dumped[0]["fields"]["title"] = "loaded"
    fixture.write_text(json.dumps(dumped))
    # when
    call_command("loaddata", str(fixture), verbosity=0)
    # then
    assert board(api_client)[str(errand.pk)]["title"] == "loaded"


# --- transactions ---------------------------------------------------------------------------------------------------


def test_a_write_begins_before_its_sql_and_settles_only_after_commit(errand, api_client, monkeypatch):
    # given
    from core.cache import store as store_module

    calls = []
    for name in ("begin_write", "settle_write"):
        real = getattr(store_module.GenerationStore, name)

        def spy(self, *args, _name=name, _real=real, **kwargs):
            calls.append(_name)
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(store_module.GenerationStore, name, spy)
    assert errand_title(api_client, errand.pk) == "before"
    # when: a write that rolls back
    with pytest.raises(RuntimeError), transaction.atomic():
        Errand.objects.filter(pk=errand.pk).update(title="never")
        raise RuntimeError
    # then: begun (so entries stopped validating), settled by the rollback itself (its mark lifted at once, not
    # left to expire), and the reads stay right
    assert calls == ["begin_write", "settle_write"]
    assert errand_title(api_client, errand.pk) == "before"
    # when: a write that commits
    calls.clear()
    with transaction.atomic():
        errand.title = "committed"
        errand.save()
        assert calls == ["begin_write"]  # settled only after commit
    # then
    assert calls == ["begin_write", "settle_write"]
    assert errand_title(api_client, errand.pk) == "committed"


def test_a_read_after_the_commit_is_fresh_even_if_the_after_commit_bump_never_runs(errand, api_client):
    # given: a cached read, and a commit hook registered before ours that raises, so Django drops the later hooks
    assert errand_title(api_client, errand.pk) == "before"

    def broken_hook():
        raise RuntimeError("someone else's hook")

    # when
    with pytest.raises(RuntimeError), transaction.atomic():
        transaction.on_commit(broken_hook)
        errand.title = "committed"
        errand.save()
    # then: the write committed; the begun write already invalidated, and its pending mark stops re-caching
    assert Errand.objects.get(pk=errand.pk).title == "committed"
    assert errand_title(api_client, errand.pk) == "committed"
    assert errand_title(api_client, errand.pk) == "committed"


def test_nothing_computed_in_a_transaction_that_has_written_is_cached(errand, api_client, resolver_calls):
    # given
    errand_title(api_client, errand.pk)
    # when: inside a transaction that wrote, the read sees its own write and fills nothing; then it rolls back
    with pytest.raises(RuntimeError), transaction.atomic():
        Errand.objects.filter(pk=errand.pk).update(title="uncommitted")
        assert errand_title(api_client, errand.pk) == "uncommitted"
        assert board(api_client)[str(errand.pk)]["title"] == "uncommitted"
        raise RuntimeError
    # then: nothing from inside was stored
    assert errand_title(api_client, errand.pk) == "before"
    assert board(api_client)[str(errand.pk)]["title"] == "before"


def test_read_racing_a_write_is_never_served_stale(errand, api_client, resolver_calls, monkeypatch):
    # given: the errand resolver reads the row, then a write commits before the result is stored
    from errands import schema as errand_schema

    real = errand_schema.errand_get

    def read_then_write(**kwargs):
        row = real(**kwargs)
        Errand.objects.filter(pk=errand.pk).update(title="written meanwhile")
        return row

    monkeypatch.setattr(errand_schema, "errand_get", read_then_write)
    # when
    assert errand_title(api_client, errand.pk) == "before"  # what the racing read saw
    monkeypatch.setattr(errand_schema, "errand_get", real)
    # then
    assert errand_title(api_client, errand.pk) == "written meanwhile"


def test_an_empty_list_racing_the_write_that_fills_it_is_never_served(api_client, resolver_calls, monkeypatch):
    # given: the banks resolver finds none for XX, then a bank of XX is created and committed before the result is
    # stored (the answer shows no row, so only the list's family says what could change it)
    from accounts import schema as accounts_schema

    real = accounts_schema.bank_list

    def read_then_write(**kwargs):
        rows = list(real(**kwargs))
        BankFactory(country="XX", name="Opened meanwhile")
        return rows

    monkeypatch.setattr(accounts_schema, "bank_list", read_then_write)
    query = '{ banks(country: "XX") { name } }'
    # when
    assert get_graphql_content(api_client.post_graphql(query))["data"]["banks"] == []
    monkeypatch.setattr(accounts_schema, "bank_list", real)
    # then
    assert get_graphql_content(api_client.post_graphql(query))["data"]["banks"] == [{"name": "Opened meanwhile"}]


# --- Django admin -------------------------------------------------------------------------------------------------


class _FormFields(HTMLParser):
    """The fields of the admin change form as a browser would submit them."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in {"submit", "checkbox"}:
            self.data[name] = attrs.get("value") or ""
        elif tag == "input" and name and "checked" in attrs:
            self.data[name] = "on"
        elif tag == "select" and name:
            self._select = name
            self.data.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in attrs:
            self.data[self._select] = attrs.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        if tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea] += data.removeprefix("\n")


@pytest.fixture
def admin_browser() -> Client:
    browser = Client()
    browser.force_login(AdminUserFactory())
    return browser


def test_admin_change_form_refreshes(errand, api_client, admin_browser):
    # given
    board(api_client), errand_title(api_client, errand.pk)
    url = f"/admin/errands/errand/{errand.pk}/change/"
    form = _FormFields()
    form.feed(admin_browser.get(url).content.decode())
    # when
    response = admin_browser.post(url, {**form.data, "title": "edited in admin"})
    # then
    assert response.status_code == 302, response.content[:2000]
    assert board(api_client)[str(errand.pk)]["title"] == "edited in admin"
    assert errand_title(api_client, errand.pk) == "edited in admin"


def test_admin_delete_and_bulk_delete_refresh(api_client, admin_browser):
    # given
    one, *many = ErrandFactory.create_batch(3)
    board(api_client), errand_title(api_client, one.pk)
    # when
    admin_browser.post(f"/admin/errands/errand/{one.pk}/delete/", {"post": "yes"})
    admin_browser.post(
        "/admin/errands/errand/",
        {"action": "delete_selected", "_selected_action": [e.pk for e in many], "post": "yes"},
    )
    # then
    assert board(api_client) == {}
    assert errand_title(api_client, one.pk) is None


def _errand_fields(errand, **overrides) -> dict:
    fields = {
        f.name: getattr(errand, f.name)
        for f in Errand._meta.concrete_fields
        if f.name not in {"id", "created_at", "updated_at"}
    }
    return {**fields, **overrides}


def test_a_write_sets_its_write_clock_before_its_generations(errand, monkeypatch):
    # given: a guarded fill that ran between the two would otherwise see an old clock and a new row token
    from core.cache.keys import clock_key
    from core.cache.store import get_store

    store = get_store()
    orders = []
    real = store._write

    def spy(write_id, action, moves):
        orders.append(list(moves.tokens))
        return real(write_id, action, moves)

    monkeypatch.setattr(store, "_write", spy)
    # when
    errand.title = "written"
    errand.save()
    # then
    assert len(orders) == 2
    for names in orders:
        assert names[0] == clock_key("errands.errand")
        assert all(not name.startswith(clock_key("")) for name in names[1:])
