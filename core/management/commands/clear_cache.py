"""`manage.py clear_cache --all | --pattern GLOB [--dry-run]`: remove our cache entries, never anyone else's.

It says what it did where: on Redis the count is the whole cache's; on local memory this command is a process of
its own, with an empty memory, and reaches the running server only through the journal (docs/caching.md).
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.cache import keys
from core.cache.invalidation import invalidation_map
from core.cache.journal import default_path as journal_path
from core.cache.manager import CacheManager
from core.cache.policies import root_policies
from core.cache.store import GenerationStore, get_store


def known_families() -> list[str]:
    """The families this project fills: the GraphQL policies', the invalidation map's, whole responses, querysets."""
    roots = {policy.family_root for policy in root_policies().values()}
    roots |= {template.split(":", 1)[0] for templates in invalidation_map().values() for template in templates}
    return sorted(roots | {keys.OPERATION_FAMILY, "queryset"})


class Command(BaseCommand):
    help = "Remove cache entries under our prefix: all of them, or those matching a glob such as 'user_profile:*'."

    def add_arguments(self, parser: CommandParser) -> None:
        target = parser.add_mutually_exclusive_group()
        target.add_argument("--all", action="store_true", help="every entry under our key prefix")
        target.add_argument("--pattern", metavar="GLOB", help="a glob relative to the prefix, e.g. 'user_profile:*'")
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
        local = store.backend == "locmem"
        where = " from this command's own memory" if local else ""
        self.stdout.write(f"{verb} {count} key{'' if count == 1 else 's'} {what}{where} ({health['backend']}).")
        if local:
            self._elsewhere(pattern, dry_run=dry_run)
        if pattern is not None and count == 0:
            self._families(store, pattern)

    def _elsewhere(self, pattern: str | None, *, dry_run: bool) -> None:
        """Local memory: what happened in the other processes of this machine (the running server's among them)."""
        journal = journal_path()
        if dry_run:
            self.stdout.write("Local memory: other processes (the running server too) cannot be counted from here.")
            return
        if not journal:
            self.stdout.write(
                "The journal is off (CACHE_LOCMEM_JOURNAL is empty): other processes, the running server too, keep "
                "their entries; restart them to clear their memory."
            )
            return
        family = None if pattern is None else keys.family_from_pattern(pattern)
        if pattern is None:
            done = "everything they cached stops being served (the epoch bump)"
        elif family is not None:
            done = f"family {family!r} stops being served (one generation bump)"
        else:
            # A scan runs in this process only; what a glob would match in another's memory cannot be seen here.
            self.stdout.write(
                f"Other processes of this machine (the running server too) drop only their whole responses (gql), "
                f"through the journal {journal}: {pattern!r} names no family, and their memory cannot be scanned "
                "from here. Use a family pattern such as 'user_profile:*', or --all."
            )
            return
        self.stdout.write(f"In every other process of this machine (the running server too) {done}, through the "
                          f"journal {journal}.")  # fmt: skip

    def _families(self, store: GenerationStore, pattern: str) -> None:
        present = store.families()
        if present:
            self.stdout.write(f"No key matched {pattern!r}. Families in the cache: {', '.join(present)}.")
        else:
            where = "this command's memory" if store.backend == "locmem" else "the cache"
            self.stdout.write(
                f"No key matched {pattern!r}; {where} holds no entries. "
                f"Families this project fills: {', '.join(known_families())}."
            )
