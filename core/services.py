"""Writes of core's own tables."""

from __future__ import annotations

import hashlib

from django.db import transaction

from core.models import PersistedQuery


@transaction.atomic
def persisted_queries_register(*, documents: dict[str, tuple[str, str]], replace: bool = False) -> int:
    """Registers {sha256: (name, query)} for the allow-list; every hash must be the sha256 of its query.

    With `replace`, documents not in `documents` are removed. Returns how many documents were new.
    """
    for sha256, (_, query) in documents.items():
        if hashlib.sha256(query.encode()).hexdigest() != sha256:
            raise ValueError(f"{sha256} is not the sha256 of its document")
    if replace:
        PersistedQuery.objects.exclude(sha256__in=list(documents)).delete()
    existing = set(PersistedQuery.objects.filter(sha256__in=list(documents)).values_list("sha256", flat=True))
    PersistedQuery.objects.bulk_create(
        [PersistedQuery(sha256=h, name=name[:200], query=q) for h, (name, q) in documents.items() if h not in existing]
    )
    return len(set(documents) - existing)
