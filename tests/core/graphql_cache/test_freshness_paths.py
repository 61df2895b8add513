"""Freshness through deep rows, list membership, mutations, savepoints and every way a viewer is identified.
Each compares the cached answer with the server's answer with the cache off, after a write by one path."""

import pytest
from django.db import transaction
from django.test import Client

from core.cache import invalidation
from core.cache.invalidation import UPDATE_ROWS_KNOWN
from core.factories import ErrandFactory, EscrowFactory, UserFactory
from errands.models import Errand, ErrandStatus
from tests.core.graphql_cache.oracle import post, uncached
from tests.fixtures.api import ApiClient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("cache_backend"), pytest.mark.cluster]

MY_ESCROWS_DEEP = "{ myEscrows { id status errand { title status createdBy { username } runner { username } } } }"
BOARD_BY_STATUS = "query B($s: ErrandStatus, $o: Int) { errands(status: $s, first: 1, offset: $o) { id title } }"
SEARCH = 'query S { errands(search: "zebra") { id } }'
MY_ERRANDS = "query M { myErrands { id status } }"
ME = "query Me { me { id username email profile { phone } } }"


def _same(client, query, variables=None):
    assert post(client, query, variables) == uncached(client, query, variables)


def _cached(client, query, variables=None) -> None:
    """The answer, equal to the oracle's, and cached: read after the oracle, whose settings override replaces the
    store (a Redis Cluster store then misses once)."""
    expected = uncached(client, query, variables)
    assert post(client, query, variables) == expected


def _update(errand: Errand) -> None:
    Errand.objects.filter(pk=errand.pk).update(title="renamed")


def _bulk_update(errand: Errand) -> None:
    errand.title = "renamed"
    Errand.objects.bulk_update([errand], ["title"])


@pytest.mark.parametrize(
    ("write", "rows_known"),
    [(_update, UPDATE_ROWS_KNOWN), (_update, 0), (_bulk_update, UPDATE_ROWS_KNOWN)],
    ids=["update of known rows", "update of more rows than UPDATE_ROWS_KNOWN", "bulk_update"],
)
def test_deep_rows_in_my_escrows_follow_orm_writes_on_errand_and_user(api_client_for, monkeypatch, write, rows_known):
    # given: the payer's escrows cached with their errand, which no family of Errand's templates lists there
    monkeypatch.setattr(invalidation, "UPDATE_ROWS_KNOWN", rows_known)
    escrow = EscrowFactory()
    payer = api_client_for(escrow.payer)
    _cached(payer, MY_ESCROWS_DEEP)

    # when: a write to the errand (more rows than UPDATE_ROWS_KNOWN: the whole model's)
    write(escrow.errand)

    # then
    _same(payer, MY_ESCROWS_DEEP)
    assert post(payer, MY_ESCROWS_DEEP)["data"]["myEscrows"][0]["errand"]["title"] == "renamed"

    # given / when: a save of the runner, a row write
    _cached(payer, MY_ESCROWS_DEEP)
    runner = escrow.payee
    runner.username = "runner-renamed"
    runner.save()

    # then
    _same(payer, MY_ESCROWS_DEEP)


def test_filter_search_and_pagination_membership_follow_status_and_title_changes(api_client):
    a, b = ErrandFactory(title="a"), ErrandFactory(title="b")
    for variables in ({"s": "ASSIGNED", "o": 0}, {"s": "OPEN", "o": 0}, {"s": "OPEN", "o": 1}):
        post(api_client, BOARD_BY_STATUS, variables)
    post(api_client, SEARCH)
    runner = UserFactory()
    a.runner, a.status = runner, ErrandStatus.ASSIGNED
    a.save()
    b.title = "a zebra"
    b.save()
    for variables in ({"s": "ASSIGNED", "o": 0}, {"s": "OPEN", "o": 0}, {"s": "OPEN", "o": 1}):
        _same(api_client, BOARD_BY_STATUS, variables)
    _same(api_client, SEARCH)


def test_an_update_that_assigns_an_errand_adds_it_to_the_runners_cached_my_errands(api_client_for):
    # given: a runner's errands, cached empty (the answer shows no row the update could move)
    errand, runner = ErrandFactory(), UserFactory()
    client = api_client_for(runner)
    assert post(client, MY_ERRANDS)["data"]["myErrands"] == []

    # when: an update of known rows names the runner (a column other than the primary key)
    Errand.objects.filter(pk=errand.pk).update(runner=runner, status=ErrandStatus.ASSIGNED)

    # then
    _same(client, MY_ERRANDS)
    assert post(client, MY_ERRANDS)["data"]["myErrands"] == [{"id": str(errand.pk), "status": "ASSIGNED"}]


def test_accept_errand_mutation_adds_the_errand_to_the_runners_my_errands(api_client_for):
    errand, runner = ErrandFactory(), UserFactory()
    client = api_client_for(runner)
    assert post(client, MY_ERRANDS)["data"]["myErrands"] == []
    post(client, f'mutation {{ acceptErrand(id: "{errand.pk}") {{ errors {{ code }} }} }}')
    _same(client, MY_ERRANDS)
    assert post(client, MY_ERRANDS)["data"]["myErrands"] == [{"id": str(errand.pk), "status": "ASSIGNED"}]


def test_nothing_from_a_transaction_whose_write_was_in_a_rolled_back_savepoint_is_cached(api_client):
    errand = ErrandFactory(title="before")
    query = "query O($id: ID!) { errand(id: $id) { title } }"
    variables = {"id": str(errand.pk)}
    with transaction.atomic():
        try:
            with transaction.atomic():
                Errand.objects.filter(pk=errand.pk).update(title="never")
                raise RuntimeError
        except RuntimeError:
            pass
        post(api_client, query, variables)
    _same(api_client, query, variables)


def test_viewers_never_share_me_across_bearer_session_anonymous_and_bad_token():
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    session = Client()
    session.force_login(bob)
    bearer_alice = ApiClient(alice)
    for _ in range(2):
        assert post(bearer_alice, ME)["data"]["me"]["username"] == "alice"
        response = session.post("/graphql/", {"query": ME}, content_type="application/json")
        assert response.json()["data"]["me"]["username"] == "bob"
        assert post(ApiClient(), ME)["data"]["me"] is None
        assert post(ApiClient(token="garbage"), ME)["data"]["me"] is None
