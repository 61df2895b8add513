"""Field keys cover every merged field node: an @include-guarded inline fragment, or a fragment shared by two
operations of one document, never lets one shape answer for another."""

import pytest

from core.factories import ErrandFactory
from tests.core.graphql_cache.oracle import post, uncached

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("cache_backend")]

INCLUDE_QUERY = """
query Board($more: Boolean!) {
  errands { id }
  ... @include(if: $more) { errands { title } }
}
"""

SHARED_FRAGMENT_DOCUMENT = """
query Short { ...Ids }
query Long { ...Ids errands { title } }
fragment Ids on Query { errands { id } }
"""


def test_include_variable_on_an_inline_fragment_does_not_split_the_field_key(api_client):
    # given: one errand, and the short shape cached (more: false)
    errand = ErrandFactory(title="hello")
    assert post(api_client, INCLUDE_QUERY, {"more": False})["data"] == {"errands": [{"id": str(errand.pk)}]}
    # when: the same document asks for the title too
    cached = post(api_client, INCLUDE_QUERY, {"more": True})
    # then: the cached answer must be what the server computes
    expected = uncached(api_client, INCLUDE_QUERY, {"more": True})
    assert expected["data"] == {"errands": [{"id": str(errand.pk), "title": "hello"}]}
    assert cached == expected


def test_two_operations_sharing_a_root_fragment_do_not_share_a_field_entry(api_client):
    # given
    errand = ErrandFactory(title="hello")
    assert post(api_client, SHARED_FRAGMENT_DOCUMENT, operation_name="Short")["data"] == {
        "errands": [{"id": str(errand.pk)}]
    }
    # when
    cached = post(api_client, SHARED_FRAGMENT_DOCUMENT, operation_name="Long")
    # then
    expected = uncached(api_client, SHARED_FRAGMENT_DOCUMENT, operation_name="Long")
    assert expected["data"] == {"errands": [{"id": str(errand.pk), "title": "hello"}]}
    assert cached == expected


def test_the_other_order_never_adds_a_field_the_client_did_not_ask_for(api_client):
    # given: the long shape first
    errand = ErrandFactory(title="hello")
    post(api_client, INCLUDE_QUERY, {"more": True})
    # when
    cached = post(api_client, INCLUDE_QUERY, {"more": False})
    # then: the short request must not receive `title`
    assert cached == uncached(api_client, INCLUDE_QUERY, {"more": False})
    assert cached["data"] == {"errands": [{"id": str(errand.pk)}]}
