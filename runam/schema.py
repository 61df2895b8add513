"""The public schema: composed from each app's queries and mutations, nothing else."""

import graphene

from accounts.schema import AccountMutations, AccountQueries
from errands.schema import ErrandMutations, ErrandQueries
from escrows.schema import EscrowMutations, EscrowQueries


class Query(AccountQueries, ErrandQueries, EscrowQueries, graphene.ObjectType):
    pass


class Mutation(AccountMutations, ErrandMutations, EscrowMutations, graphene.ObjectType):
    pass


schema = graphene.Schema(query=Query, mutation=Mutation)
