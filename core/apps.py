from django.apps import AppConfig
from django.conf import settings
from django.utils.module_loading import import_string


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "RunAm core"

    def ready(self) -> None:
        from core import checks  # noqa: F401  (registers the deploy checks)
        from core.cache import invalidation, policies, relay

        # Fail at start-up, with the offending entry named, rather than on the first request that meets it.
        schema = import_string(settings.GRAPHENE["SCHEMA"])
        policies.check_policies(schema.graphql_schema)
        invalidation.connect()
        # Server processes apply what writers left in the outbox (one that could not, or died right after commit).
        relay.start_in_server()
