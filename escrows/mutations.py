"""Escrow mutations: decode input, check the viewer, call one service, report refusals in `errors`."""

import graphene

from core.auth import require_viewer
from core.errors import DomainError, FieldError, parse_pk
from escrows.services import escrow_fund, escrow_refund, escrow_release
from escrows.types import EscrowType


class EscrowPayload(graphene.ObjectType):
    escrow = graphene.Field(EscrowType)
    errors = graphene.NonNull(graphene.List(graphene.NonNull(FieldError)))


def _escrow_payload(action) -> EscrowPayload:
    try:
        return EscrowPayload(escrow=action(), errors=[])
    except DomainError as error:
        return EscrowPayload(escrow=None, errors=error.as_field_errors())


class FundEscrow(graphene.Mutation):
    class Arguments:
        errand_id = graphene.ID(required=True)

    Output = EscrowPayload

    @staticmethod
    def mutate(root, info, errand_id: str) -> EscrowPayload:
        return _escrow_payload(
            lambda: escrow_fund(user=require_viewer(info.context), errand_id=parse_pk(errand_id, what="errand"))
        )


class _EscrowTransition(graphene.Mutation):
    """The payer, payee or staff settles one escrow through one service."""

    class Meta:
        abstract = True

    class Arguments:
        id = graphene.ID(required=True)

    Output = EscrowPayload
    service = None  # escrow_<action>(*, user, escrow_id)

    @classmethod
    def mutate(cls, root, info, id: str) -> EscrowPayload:
        return _escrow_payload(
            lambda: cls.service(user=require_viewer(info.context), escrow_id=parse_pk(id, what="escrow"))
        )


class ReleaseEscrow(_EscrowTransition):
    service = staticmethod(escrow_release)


class RefundEscrow(_EscrowTransition):
    service = staticmethod(escrow_refund)
