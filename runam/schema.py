"""The public schema: composed from each app's queries and mutations, nothing else."""

import graphene
from graphene.types.definitions import GrapheneScalarType
from graphql import GraphQLScalarType

from accounts.schema import AccountMutations, AccountQueries
from errands.schema import ErrandMutations, ErrandQueries
from escrows.schema import EscrowMutations, EscrowQueries


class Query(AccountQueries, ErrandQueries, EscrowQueries, graphene.ObjectType):
    pass


class Mutation(AccountMutations, ErrandMutations, EscrowMutations, graphene.ObjectType):
    pass


schema = graphene.Schema(query=Query, mutation=Mutation)

# graphql-core's find_breaking_changes compares type classes exactly, so graphene's GrapheneScalarType subclass
# reads as a "kind change" of DateTime and Decimal against the contract's plain scalars. Same object, same
# serialize/parse functions (instance attributes), plain class: the contract check compares like with like.
for _named_type in schema.graphql_schema.type_map.values():
    if isinstance(_named_type, GrapheneScalarType):
        _named_type.__class__ = GraphQLScalarType
