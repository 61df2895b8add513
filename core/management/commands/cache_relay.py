"""`manage.py cache_relay [--once]`: apply the cache outbox (what writers could not apply themselves).

Server processes run the relay on their own (core/cache/relay.py); this command is for by hand (`--once`, after
an outage, say) or for a process of its own next to servers that run without it (CACHE_OUTBOX_RELAY=false).
"""

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.cache import conf, outbox
from core.cache.relay import Relay
from core.cache.store import get_store


class Command(BaseCommand):
    help = "Apply the cache invalidations left in the outbox: once (--once), or continuously until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="apply every row now and exit")

    def handle(self, *args: Any, once: bool = False, **options: Any) -> None:
        relay = Relay()
        backend = get_store().backend
        if once:
            # Every row, however young: one whose writer is settling it right now is applied twice, harmlessly.
            applied, _ = relay.run_once(grace=0)
            left = outbox.count()
            self.stdout.write(f"Applied {applied} outbox row{'' if applied == 1 else 's'} ({backend}); {left} left.")
            if left:
                raise CommandError("rows are left: the cache backend did not answer (see the log); try again")
            return
        stopped = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stopped.set())
        self.stdout.write(
            f"Relaying the cache outbox every {conf.outbox_relay_interval()} s ({backend}); Ctrl-C stops."
        )
        self.stdout.flush()
        relay.start()
        stopped.wait()
        relay.stop()
