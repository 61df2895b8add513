"""`manage.py warm_cache [--name NAME ...]`: run the registered cache warmers (after a deploy, say)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.cache.manager import CacheManager, registered_warmers
from core.cache.store import get_store


class Command(BaseCommand):
    help = "Fill the cache ahead of traffic: run every registered warmer, or those named."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", action="append", dest="names", metavar="NAME", help="a warmer to run (repeat)")

    def handle(self, *args: Any, names: list[str] | None = None, **options: Any) -> None:
        known = registered_warmers()
        unknown = sorted(set(names or ()) - set(known))
        if unknown:
            raise CommandError(f"no warmer named {', '.join(unknown)}; registered: {', '.join(known) or 'none'}")
        store = get_store()
        if not store.info()["healthy"]:
            raise CommandError(f"cache backend ({store.backend}) unreachable: nothing was warmed")
        wanted = names or known
        ran = CacheManager.warm_up(names=wanted)
        failed = [name for name in wanted if name not in ran]
        self.stdout.write(f"Warmed {len(ran)} of {len(wanted)}: {', '.join(ran) or 'none'} ({store.backend}).")
        if store.backend == "locmem":
            # This command's memory ends with it: nothing it filled reaches the running server.
            self.stdout.write(
                "Local memory: this filled only this command's own memory, which ends with it; each server process "
                "fills its own on first use. Warming helps with REDIS_URL set."
            )
        if failed:
            raise CommandError(f"failed (see the log): {', '.join(failed)}")
