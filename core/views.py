"""Placeholder: the /graphql/ view (foundation work replaces this)."""

from graphene_django.views import GraphQLView


class RunAmGraphQLView(GraphQLView):
    pass
