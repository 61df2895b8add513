"""Reads of core's own tables."""

from __future__ import annotations

from core.models import PersistedQuery


def persisted_query_text(*, sha256: str) -> str | None:
    """The registered document with this hash, or None."""
    return PersistedQuery.objects.filter(sha256=sha256).values_list("query", flat=True).first()
