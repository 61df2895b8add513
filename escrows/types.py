import graphene
from graphene_django import DjangoObjectType

from accounts.types import UserType
from errands.types import ErrandType
from escrows.models import Escrow


class EscrowStatusEnum(graphene.Enum):
    PENDING = "PENDING"
    FUNDED = "FUNDED"
    RELEASED = "RELEASED"
    REFUNDED = "REFUNDED"

    class Meta:
        name = "EscrowStatus"


class EscrowType(DjangoObjectType):
    status = graphene.NonNull(EscrowStatusEnum)
    errand = graphene.NonNull(ErrandType)
    payer = graphene.NonNull(UserType)
    payee = graphene.NonNull(UserType)

    class Meta:
        model = Escrow
        name = "Escrow"
        description = "Only ever visible to its payer and payee."
        fields = (
            "id",
            "reference",
            "amount",
            "currency",
            "status",
            "errand",
            "payer",
            "payee",
            "created_at",
            "updated_at",
        )
        convert_choices_to_enum = False

    @staticmethod
    def resolve_status(escrow, info) -> str:
        # After a write the attribute holds a TextChoices member, whose str() is its value ("OPEN").
        return str(escrow.status)
