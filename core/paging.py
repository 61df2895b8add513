"""Paging shared by every list of the API: `first` (capped at MAX_PAGE) and `offset`, both non-negative."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from core.errors import INVALID, DomainError

MAX_PAGE = 100

T = TypeVar("T")


def page(rows: Sequence[T], *, first: int | None, offset: int | None, default: int) -> list[T]:
    """The slice [offset, offset + min(first, MAX_PAGE)) of `rows` (a queryset slices in SQL).

    None means the default (a client may send an explicit null); a negative first or offset is INVALID.
    """
    first = default if first is None else first
    offset = 0 if offset is None else offset
    if first < 0:
        raise DomainError(INVALID, f"first must be 0 or more (at most {MAX_PAGE}); got {first}.", field="first")
    if offset < 0:
        raise DomainError(INVALID, f"offset must be 0 or more; got {offset}.", field="offset")
    return list(rows[offset : offset + min(first, MAX_PAGE)])
