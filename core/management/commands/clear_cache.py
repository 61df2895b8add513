"""`manage.py clear_cache --all | --pattern GLOB [--dry-run]`: remove our cache entries, never anyone else's."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.cache import keys
from core.cache.manager import CacheManager
from core.cache.store import get_store


class Command(BaseCommand):
    help = "Remove cache entries under our prefix: all of them, or those matching a glob such as 'user:*'."

    def add_arguments(self, parser: CommandParser) -> None:
        target = parser.add_mutually_exclusive_group()
        target.add_argument("--all", action="store_true", help="every entry under our key prefix")
        target.add_argument("--pattern", metavar="GLOB", help="a glob relative to the prefix, e.g. 'user:42:*'")
        parser.add_argument("--dry-run", action="store_true", help="count what would be removed, remove nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        pattern = options["pattern"]
        if not options["all"] and (pattern is None or not keys.strip_prefix(pattern).strip()):
            # An empty pattern must not silently mean "everything": say how to ask for that.
            raise CommandError(
                "give --all or a non-empty --pattern GLOB\n"
                "usage: manage.py clear_cache --all | --pattern GLOB [--dry-run]"
            )
        store = get_store()
        health = store.info()
        if not health["healthy"]:
            raise CommandError(f"cache backend unreachable ({health.get('error')}): nothing was removed")
        dry_run = options["dry_run"]
        if options["all"]:
            count, what = CacheManager.clear_all(dry_run=dry_run), "under the prefix"
        else:
            count, what = CacheManager.delete_pattern(pattern, dry_run=dry_run), f"matching {pattern!r}"
        if not store.healthy:  # the backend went away mid-way: the count would be a lie
            raise CommandError("cache backend became unreachable during the operation: the result is unknown")
        verb = "Would remove" if dry_run else "Removed"
        self.stdout.write(f"{verb} {count} key{'' if count == 1 else 's'} {what} ({health['backend']}).")
