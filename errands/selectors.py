"""Reads on errands. Each returns model instances with createdBy and runner joined: one query per list."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from accounts.models import User
from core.errors import INVALID, NUL_PROBLEM, DomainError, has_nul
from core.paging import page
from errands.models import Errand


def errand_list(
    *,
    status: str | None = None,
    category: str | None = None,
    search: str | None = None,
    first: int | None = 20,
    offset: int | None = 0,
) -> list[Errand]:
    """The public board, newest first. `first` is clamped to MAX_PAGE; negative first/offset are INVALID."""
    for name, value in (("category", category), ("search", search)):
        if has_nul(value):
            raise DomainError(INVALID, NUL_PROBLEM, field=name)
    errands = _errands()
    if status:
        errands = errands.filter(status=status)
    if category:
        errands = errands.filter(category=category)
    if search:
        errands = errands.filter(Q(title__icontains=search) | Q(description__icontains=search))
    return page(errands, first=first, offset=offset, default=20)


def errand_get(*, errand_id: int) -> Errand | None:
    return _errands().filter(pk=errand_id).first()


def errand_list_for_user(
    *, user: User, status: str | None = None, first: int | None = 50, offset: int | None = 0
) -> list[Errand]:
    """Errands `user` created or runs, newest first, one page (`first` clamped to MAX_PAGE)."""
    errands = _errands().filter(Q(created_by=user) | Q(runner=user))
    if status:
        errands = errands.filter(status=status)
    return page(errands, first=first, offset=offset, default=50)


def _errands() -> QuerySet[Errand]:
    return Errand.objects.select_related("created_by", "runner").order_by("-created_at", "-id")
