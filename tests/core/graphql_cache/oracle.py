"""An uncached oracle to compare cached answers against."""

from __future__ import annotations

import json

from django.test import override_settings


def post(client, query: str, variables: dict | None = None, operation_name: str | None = None) -> dict:
    response = client.post_graphql(query, variables, operation_name)
    assert response.status_code == 200, response.content
    body = json.loads(response.content)
    body.pop("extensions", None)
    return body


def uncached(client, query: str, variables: dict | None = None, operation_name: str | None = None) -> dict:
    """What the server answers right now with the cache switched off (the oracle)."""
    with override_settings(CACHE_ENABLED=False):
        return post(client, query, variables, operation_name)
