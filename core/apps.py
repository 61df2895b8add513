from django.apps import AppConfig
from django.conf import settings
from django.utils.module_loading import import_string


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "RunAm core"

    def ready(self) -> None:
        from core import checks  # noqa: F401  (registers the deploy checks)
        from core.cache import invalidation, policies, relay, shutdown

        # Fail at start-up, with the offending entry named, rather than on the first request that meets it.
        schema = import_string(settings.GRAPHENE["SCHEMA"])
        policies.check_policies(schema.graphql_schema)
        invalidation.connect()
        # Every process applies what it owes the cache before it exits; server processes also apply what others
        # left in the outbox (a writer that could not, or that died right after its commit).
        shutdown.register()
        relay.start_in_server()
