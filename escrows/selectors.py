"""Reads on escrows: only ever those of the viewer (payer or payee)."""

from __future__ import annotations

from django.db.models import Q

from accounts.models import User
from core.paging import page
from escrows.models import Escrow


def escrow_list_for_user(
    *, user: User, status: str | None = None, first: int | None = 50, offset: int | None = 0
) -> list[Escrow]:
    """Escrows where `user` is payer or payee, newest first, one page, with errand (and its people), payer, payee
    joined."""
    escrows = Escrow.objects.select_related("errand__created_by", "errand__runner", "payer", "payee").filter(
        Q(payer=user) | Q(payee=user)
    )
    if status:
        escrows = escrows.filter(status=status)
    return page(escrows.order_by("-created_at", "-id"), first=first, offset=offset, default=50)
