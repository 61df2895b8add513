"""Placeholder (GraphQL caching work replaces this)."""


class FieldCacheMiddleware:
    def resolve(self, next, root, info, **args):
        return next(root, info, **args)
