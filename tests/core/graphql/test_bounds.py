"""Every per-process structure of the endpoint stays within its setting, fed ten times its bound."""

import pytest

from core.cache import middleware
from core.graphql import apq, view
from tests.fixtures.api import get_graphql_content

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("cache_backend")]

BOUND = 5


def test_documents_and_selection_memos_stay_within_the_document_cache_size(settings, api_client):
    # given
    settings.GRAPHQL_DOCUMENT_CACHE_SIZE = BOUND

    # when: ten times as many different documents, each with a cached field (so a selection memo too)
    for n in range(10 * BOUND):
        get_graphql_content(api_client.post_graphql(f"query Q{n} {{ roles {{ id }} }}"))

    # then
    assert len(view.documents()) == BOUND
    assert len(middleware._selections) <= BOUND


def test_the_document_cache_holds_at_most_its_bytes_of_text(settings, api_client):
    # given: room for about three documents of 200 characters
    settings.GRAPHQL_DOCUMENT_CACHE_BYTES = 600
    padding = " " * 180

    # when
    for n in range(10 * BOUND):
        get_graphql_content(api_client.post_graphql(f"query Q{n} {{ roles {{ id }} }}{padding}"))

    # then
    documents = view.documents()
    assert documents.bytes <= 600
    assert 1 <= len(documents) <= 3


def test_a_document_longer_than_the_limit_is_never_parsed_or_kept(settings, api_client):
    # given
    settings.GRAPHQL_MAX_QUERY_LENGTH = 100

    # when
    response = api_client.post_graphql(
        "{ roles { id } }" + " " * 200, headers={"Accept": "application/graphql-response+json"}
    )

    # then
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_LARGE"
    assert len(view.documents()) == 0


def test_known_persisted_query_texts_stay_within_their_bound():
    # given
    texts = apq._Texts(BOUND)

    # when
    for n in range(10 * BOUND):
        texts.put(f"{n:064x}", f"query Q{n} {{ roles {{ id }} }}")

    # then: the most recent are kept
    assert len(texts._entries) == BOUND
    assert texts.get(f"{10 * BOUND - 1:064x}") is not None
    assert texts.get(f"{0:064x}") is None
