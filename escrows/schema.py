import graphene

from core.auth import require_viewer
from core.errors import DomainError
from escrows.mutations import FundEscrow, RefundEscrow, ReleaseEscrow
from escrows.selectors import escrow_list_for_user
from escrows.types import EscrowStatusEnum, EscrowType


class EscrowQueries(graphene.ObjectType):
    my_escrows = graphene.NonNull(
        graphene.List(graphene.NonNull(EscrowType)),
        status=EscrowStatusEnum(),
        first=graphene.Int(default_value=50),
        offset=graphene.Int(default_value=0),
        description="Escrows where the viewer is payer or payee, newest first. Error when anonymous. "
        "first is capped (100 at most).",
    )

    @staticmethod
    def resolve_my_escrows(root, info, status=None, first=50, offset=0):
        try:
            viewer = require_viewer(info.context)
            return escrow_list_for_user(
                user=viewer, status=getattr(status, "value", status), first=first, offset=offset
            )
        except DomainError as error:
            raise error.as_graphql_error() from error


class EscrowMutations(graphene.ObjectType):
    fund_escrow = FundEscrow.Field(required=True)
    release_escrow = ReleaseEscrow.Field(required=True)
    refund_escrow = RefundEscrow.Field(required=True)
