"""Reads on errands. Each returns model instances with createdBy and runner joined: one query per list."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from accounts.models import User
from core.errors import INVALID, DomainError
from errands.models import Errand

MAX_PAGE = 100


def errand_list(
    *,
    status: str | None = None,
    category: str | None = None,
    search: str | None = None,
    first: int | None = 20,
    offset: int | None = 0,
) -> list[Errand]:
    """The public board, newest first. `first` is clamped to MAX_PAGE; negative first/offset are INVALID."""
    first = 20 if first is None else first
    offset = 0 if offset is None else offset
    if first < 0:
        raise DomainError(INVALID, f"first must be 0 or more (at most {MAX_PAGE}); got {first}.", field="first")
    if offset < 0:
        raise DomainError(INVALID, f"offset must be 0 or more; got {offset}.", field="offset")
    errands = _errands()
    if status:
        errands = errands.filter(status=status)
    if category:
        errands = errands.filter(category=category)
    if search:
        errands = errands.filter(Q(title__icontains=search) | Q(description__icontains=search))
    return list(errands[offset : offset + min(first, MAX_PAGE)])


def errand_get(*, errand_id: int) -> Errand | None:
    return _errands().filter(pk=errand_id).first()


def errand_list_for_user(*, user: User, status: str | None = None) -> list[Errand]:
    """Errands `user` created or runs, newest first."""
    errands = _errands().filter(Q(created_by=user) | Q(runner=user))
    if status:
        errands = errands.filter(status=status)
    return list(errands)


def _errands() -> QuerySet[Errand]:
    return Errand.objects.select_related("created_by", "runner").order_by("-created_at", "-id")
