"""Faults under the freshness torture (issue #13): stalls, killed writers, snapshot restore, promotion, failover.

Redis stalled, writers killed right after their commit, a restart from a snapshot, a replica promoted after an
unreplicated bump, a Sentinel failover.

The freshness torture (bench_freshness: writers through every path, readers anonymous and signed in, the stale-read
checker) runs against gunicorn (2 workers, GRAPHQL_CACHE_DEBUG on, so every response says whether the cache served
it) while each fault happens, and for a while after it. Per fault it prints: the writes completed during the fault,
stale reads during it, stale reads after its end (and those later than 1 s after it), the longest time from its end
to the last stale read, 5xx (and requests with no answer), the time from its end to the first cache hit, and the
outbox rows overdue (older than two relay intervals) when the window after it ends. Targets (issue #13, "Done
when"): no stale read later than 1 s after a fault ends, none at all for a fault that does not touch Redis, no 5xx,
hits again within 1 s.

The faults, and what "during" means for each (from the first moment a write's invalidation can be lost to the moment
the app can reach a healthy Redis again):

  stall-<s>, stall-write-<s>  `CLIENT PAUSE <ms> ALL` / `WRITE` on the app's Redis under the whole load (in a WRITE
                              pause, hits go on); right after it begins, a `manage.py shell -c` (started before)
                              updates an errand and exits, its exit flush waiting for Redis (the issue's first row).
                              During: the pause.
  stall-unseen-<s>            `CLIENT PAUSE <ms> ALL` while the readers are held (no request of theirs in flight):
                              only the writers meet the stall (the bench process's ORM writers, and whichever worker
                              takes a mutation or an admin save), so a worker may come out of it having seen nothing,
                              as in the issue's second row; the readers start again when the pause ends.
  sigkill                     writers in their own process (`manage.py shell -c`) that update an errand and SIGKILL
                              themselves in a commit hook: alternately one registered before the cache's (nothing
                              after the commit runs: the relay of the servers must apply the outbox row) and one
                              after it (the process dies after its settle, as the issue's brief puts it). Each write
                              counts as completed when the bench sees its writer dead. During: the first launch to
                              the last death. Redis is untouched: no stale read is allowed at all.
  snapshot                    persistence on: SAVE, writes go on (their invalidations reach Redis), then SIGKILL
                              and an immediate restart on the same port, which loads the snapshot: entries those
                              writes invalidated are back. The gunicorn workers live through it and reconnect
                              (redis-py does so silently when a pooled connection was closed). During: SAVE to
                              the restarted server answering.
  promotion                   a master and a replica, each behind a TCP proxy of ours (bench/proxy.py): one carries
                              replication, one is the app's address (REDIS_URL). The replication link is held (a
                              partition: the master keeps acknowledging writes, with bumps the replica never gets),
                              the master gets SIGKILL, the replica `REPLICAOF NO ONE`, and the app's address is moved
                              to it (the proxy closes every connection and connects new ones to the replica), as a
                              virtual IP or a managed endpoint moves. No Sentinel: that is the next fault.
                              CACHE_REDIS_MIN_REPLICAS=0 (the default): the identity check alone. During: the hold
                              to the move.
  sentinel                    a master, two replicas and 3 Sentinels (support.LocalSentinel, quorum 2, down after
                              1 s); the app finds the master through them (REDIS_SENTINELS, REDIS_SENTINEL_SERVICE;
                              CACHE_REDIS_MIN_REPLICAS from --sentinel-min-replicas, 0 by default; with 1: WAIT, and
                              hits only from a master with a replica, which the promoted one keeps). The master gets
                              SIGKILL. During: the kill to every Sentinel
                              naming the promoted replica.

Each group of faults on one kind of Redis set-up runs in a process of its own (Django's settings are loaded once per
process), with its own Redis servers and gunicorn, on one scratch database migrated and seeded once.

In `snapshot` and `promotion` the load is held (no request in flight) for the moment Redis goes and comes back or
the address moves, so that the servers meet no error and reconnect silently: the case of the issue, and the one the
run_id check on failures could not see.

Run: `python -m bench faults` (`--faults sigkill,snapshot`, `--stalls 0.5,1.5,3`, `--unseen-stalls 1.5`, `--before`,
`--after` in seconds; `--shared`: the single-Redis faults one after another in one process, as tests/bench does to
save start-ups).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.bench_freshness import PEOPLE, Torture, prepare, title
from bench.bench_outage import is_hit
from bench.support import (
    BIN,
    ROOT,
    Gunicorn,
    LocalNode,
    LocalSentinel,
    RedisServer,
    Stopwatch,
    arguments,
    machine_line,
    prepare_database,
    print_table,
    scratch_database,
    server_env,
    setup_django,
    verdict,
    wait_until,
    write_results,
)

LATE = 1.0  # seconds after a fault's end from which no stale read is allowed
RESUME = 1.0  # seconds after a fault's end within which hits must resume
WRITER_PAUSE = 0.5  # mean seconds between a writer's calls: entries live long enough to be hit between writes
KILLED_ERRANDS = 2  # errands only the SIGKILLed writers write
READERS = frozenset({"board-1", "board-2", "errand", *PEOPLE})  # the torture's reading loops
SENTINEL_SERVICE = "runam-faults"
SENTINELS = 3
REPLICAS = 2  # the promoted replica keeps one: CACHE_REDIS_MIN_REPLICAS=1 can still be met after the failover
NO_SYNC_DELAY = ["--repl-diskless-sync-delay", "0"]  # a replica syncs at once, not 5 s later (also once promoted)

# A writer that dies right after its commit: a commit hook registered before the cache's kills the process before
# the cache's hook settles the write (the relay must apply its outbox row); one registered after it, after the settle.
KILL_SCRIPT = """
import os, signal
from django.db import transaction
from errands.models import Errand

def die():
    os.kill(os.getpid(), signal.SIGKILL)

with transaction.atomic():
    if {first}:
        transaction.on_commit(die)
    Errand.objects.filter(pk={pk}).update(title={title!r})
    transaction.on_commit(die)
"""


# --- Redis set-ups ------------------------------------------------------------------------------------------------


class ProxyProcess:
    """bench/proxy.py in its own process: `command("hold")`, `command("target 6380")` return once done."""

    def __init__(self, target: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.proxy", str(target)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.port = int(self.proc.stdout.readline())

    def command(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        if answer != "ok":
            raise RuntimeError(f"proxy answered {answer!r} to {line!r}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


@dataclass
class Rig:
    """The Redis servers of one set-up, and what the app's environment says to reach them."""

    workdir: Path
    env: dict[str, Any] = field(default_factory=dict)  # REDIS_URL or REDIS_SENTINELS..., for the app's environment
    app_env: dict[str, str] = field(default_factory=dict)  # the servers' whole environment, once they start
    redis: RedisServer | None = None  # the app's Redis (single), or the master
    replica: RedisServer | None = None
    replication: ProxyProcess | None = None  # master -> replica link (promotion)
    address: ProxyProcess | None = None  # the app's address (promotion)
    sentinel: LocalSentinel | None = None

    def client(self):
        return (self.sentinel.master() if self.sentinel else self.redis).client()

    def ready(self) -> None:
        """Wait for what the set-up needs before a fault (called once the servers have started: meanwhile, the
        Sentinels find each other, which takes them a few seconds)."""
        if self.sentinel:
            wait_until(lambda: knows_everyone(self.sentinel), 60, "the Sentinels to find each other", interval=0.2)


def single(stack: contextlib.ExitStack, workdir: Path) -> Rig:
    """One redis-server with persistence on (the snapshot fault needs it; the others do not notice)."""
    server = RedisServer(workdir / "redis", persist=True)
    stack.callback(server.stop)
    server.start()
    return Rig(workdir, {"REDIS_URL": server.url}, redis=server)


def replicated(stack: contextlib.ExitStack, workdir: Path) -> Rig:
    """A master and a replica, replicating through one proxy; the app reaches the master through another."""
    master = RedisServer(workdir / "master", options=NO_SYNC_DELAY)
    stack.callback(master.stop)
    master.start()
    replication = ProxyProcess(master.port)
    stack.callback(replication.stop)
    replica = RedisServer(
        workdir / "replica", options=[*NO_SYNC_DELAY, "--replicaof", "127.0.0.1", str(replication.port)]
    )
    stack.callback(replica.stop)
    replica.start()
    wait_until(lambda: in_sync(master, replica), 30, "the replica to sync")
    address = ProxyProcess(master.port)
    stack.callback(address.stop)
    # No WAIT here (CACHE_REDIS_MIN_REPLICAS=0, the default): the promoted replica has no replica of its own, and the
    # master is dead, so nothing can split; the identity check of the first new connection is what this fault tests.
    env = {"REDIS_URL": f"redis://127.0.0.1:{address.port}/0", "CACHE_REDIS_MIN_REPLICAS": 0}
    return Rig(workdir, env, redis=master, replica=replica, replication=replication, address=address)


def with_sentinels(stack: contextlib.ExitStack, workdir: Path) -> Rig:
    """A master, two replicas and 3 Sentinels (support.LocalSentinel: quorum 2, the master down after 1 s). Two
    replicas, as CACHE_REDIS_MIN_REPLICAS=1 needs (docs/scale-out.md): the promoted one keeps the other."""
    # Quorum 2 of 3, as deployed: with quorum 1 several sentinels start a failover at once, split the vote, and
    # try again only after the failover timeout (seen: 22.7 s instead of 2 s).
    sentinel = LocalSentinel(
        workdir / "sentinel", service=SENTINEL_SERVICE, replicas=REPLICAS, sentinels=SENTINELS, quorum=2
    )
    stack.callback(sentinel.stop)
    sentinel.start()
    env = {"REDIS_SENTINELS": ",".join(sentinel.addresses), "REDIS_SENTINEL_SERVICE": SENTINEL_SERVICE}
    return Rig(workdir, env, sentinel=sentinel)


def replica_online(master: RedisServer | LocalNode) -> bool:
    return master.client().info("replication").get("slave0", {}).get("state") == "online"


def in_sync(master: RedisServer, replica: RedisServer) -> bool:
    info = replica.client().info("replication")
    offset = master.client().info("replication")["master_repl_offset"]
    return info.get("master_link_status") == "up" and info.get("slave_repl_offset", -1) >= offset


def knows_everyone(sentinel: LocalSentinel) -> bool:
    """Every Sentinel knows the other two (they find each other through the master every 2 s) and the replica."""
    return all(
        len(node.client().sentinel_sentinels(SENTINEL_SERVICE)) == SENTINELS - 1
        and len(node.client().sentinel_slaves(SENTINEL_SERVICE)) == REPLICAS
        for node in sentinel.sentinels
    )


def named_master(node: LocalNode) -> int | None:
    """The port of the master one Sentinel names."""
    address = node.client().sentinel_get_master_addr_by_name(SENTINEL_SERVICE)
    return int(address[1]) if address else None


SETUPS = {"single": single, "replicated": replicated, "sentinel": with_sentinels}


# --- faults -------------------------------------------------------------------------------------------------------


@dataclass
class Window:
    start: float
    end: float
    notes: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Fault:
    name: str
    setup: str
    touches_redis: bool = True

    def inject(self, rig: Rig, torture: Torture, args) -> Window:
        raise NotImplementedError


@dataclass(frozen=True)
class Stall(Fault):
    seconds: float = 1.0
    mode: str = "ALL"
    unseen: bool = False  # readers held during the stall: only the writers' processes meet it

    def inject(self, rig: Rig, torture: Torture, args) -> Window:
        client = rig.client()
        notes = {}
        shell = ExitingWriter(rig, torture)  # set up before the pause: its write comes right after the pause begins
        if self.unseen:
            notes["quiet"] = torture.hold(READERS)
        start = time.monotonic()
        client.execute_command("CLIENT", "PAUSE", round(self.seconds * 1000), self.mode)
        shell.write()
        end = time.monotonic() + self.seconds  # the latest the pause can end
        time.sleep(max(end - time.monotonic(), 0))
        torture.release()
        wait_until(client.ping, 10, "Redis to answer after the pause")
        notes.update(shell.finish(end))
        return Window(start, end, notes)


# The first row: `manage.py shell -c` makes one ORM write while Redis is stalled and exits (its exit flush
# waits up to CACHE_EXIT_FLUSH_TIMEOUT for Redis; what it could not apply is the relay's).
SHELL_SCRIPT = """
import sys
from errands.models import Errand

print("ready", flush=True)
sys.stdin.readline()
Errand.objects.filter(pk={pk}).update(title={title!r})
print("written", flush=True)
"""


class ExitingWriter:
    """A `manage.py shell -c` process that updates one errand (one the SIGKILLed writers own: no torture thread
    writes it) when told to, then exits."""

    def __init__(self, rig: Rig, torture: Torture) -> None:
        self.torture = torture
        self.key = ("title", torture.plan.targets["killed"][0])
        self.seq = torture.history.next_seq(self.key)
        script = SHELL_SCRIPT.format(pk=self.key[1], title=title(self.key[1], self.seq))
        self.proc = subprocess.Popen(
            [str(BIN / "python"), "manage.py", "shell", "-v", "0", "-c", script],
            cwd=ROOT, env=rig.app_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True,
        )  # fmt: skip
        for _ in range(20):  # the shell may say something first
            if (line := self.proc.stdout.readline()).strip() == "ready" or not line:
                break
        if line.strip() != "ready":
            raise RuntimeError("the shell writer did not start")
        self.written = threading.Event()
        self.waiter = threading.Thread(target=self._wait_written)

    def write(self) -> None:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        self.waiter.start()

    def _wait_written(self) -> None:
        if self.proc.stdout.readline().strip() == "written":  # the update returned: it has committed
            self.torture.wrote("shell", self.key, self.seq)
            self.written.set()
        self.proc.wait(timeout=60)
        self.exited = time.monotonic()

    def finish(self, end: float) -> dict:
        self.waiter.join(timeout=60)
        if not self.written.is_set():
            raise RuntimeError("the shell writer did not write")
        return {"shell_exited_after_end_s": round(self.exited - end, 2), "shell_exit_code": self.proc.returncode}


@dataclass(frozen=True)
class KilledWriters(Fault):
    def inject(self, rig: Rig, torture: Torture, args) -> Window:
        errands = torture.plan.targets["killed"]
        start = time.monotonic()
        for n in range(args.kills):
            errand_id = errands[n % len(errands)]
            key = ("title", errand_id)
            seq = torture.history.next_seq(key)
            script = KILL_SCRIPT.format(first=n % 2 == 0, pk=errand_id, title=title(errand_id, seq))
            done = subprocess.run(
                [str(BIN / "python"), "manage.py", "shell", "-v", "0", "-c", script],
                cwd=ROOT, env=rig.app_env, capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            if done.returncode != -signal.SIGKILL:
                raise RuntimeError(f"the writer was to die by SIGKILL after its commit:\n{done.stderr[-2000:]}")
            torture.wrote("killed", key, seq)  # committed: it dies only in a commit hook
        return Window(start, time.monotonic(), {"killed": args.kills, "before_settle": (args.kills + 1) // 2})


def quieten(torture: Torture) -> bool:
    """Hold the load until no request is in flight: the servers then see no error when Redis goes, and their next
    command reconnects silently (redis-py reopens a pooled connection it finds closed), as a process between two
    requests does. True when every loop stopped in time."""
    return torture.hold()


@dataclass(frozen=True)
class SnapshotRestart(Fault):
    def inject(self, rig: Rig, torture: Torture, args) -> Window:
        start = time.monotonic()
        rig.client().save()  # the RDB the restart loads
        time.sleep(args.lost)  # writes go on; their invalidations reach Redis, not the snapshot
        quiet = quieten(torture)
        rig.redis.kill()  # nothing saved since the snapshot
        rig.redis.start()  # same port, same dir: loads the snapshot
        torture.release()
        end = time.monotonic()
        return Window(start, end, {"keys_restored": rig.client().dbsize(), "quiet": quiet})


@dataclass(frozen=True)
class Promotion(Fault):
    def inject(self, rig: Rig, torture: Torture, args) -> Window:
        master, replica = rig.redis, rig.replica
        start = time.monotonic()
        rig.replication.command("hold")
        time.sleep(args.lost)  # the master acknowledges bumps the replica never gets
        behind = master.client().info("replication")["master_repl_offset"]
        behind -= replica.client().info("replication").get("slave_repl_offset", 0)
        quiet = quieten(torture)
        master.kill()
        replica.client().execute_command("REPLICAOF", "NO", "ONE")
        rig.address.command(f"target {replica.port}")
        torture.release()
        end = time.monotonic()
        rig.redis, rig.replica = replica, None
        notes = {"bytes_not_replicated": behind, "quiet": quiet}
        if args.rejoin:
            master.options += ["--replicaof", "127.0.0.1", str(replica.port)]
            notes["replica_again_after_s"] = rejoin(replica, master.start, end)
        return Window(start, end, notes)


@dataclass(frozen=True)
class SentinelFailover(Fault):
    def inject(self, rig: Rig, torture: Torture, args) -> Window:
        sentinel = rig.sentinel
        master = sentinel.master()
        replicas = {node.port: node for node in sentinel.nodes if node is not master}
        start = time.monotonic()
        sentinel.kill(master)

        def promoted() -> bool:
            named = {named_master(node) for node in sentinel.sentinels}
            return (
                len(named) == 1
                and (port := named.pop()) in replicas
                and replicas[port].client().info("replication")["role"] == "master"
            )

        wait_until(promoted, 60, "the Sentinels to promote a replica")
        end = time.monotonic()
        replica = replicas[named_master(sentinel.sentinels[0])]
        notes = {"failover_seconds": round(end - start, 2)}
        if args.rejoin:
            notes["replica_again_after_s"] = rejoin(replica, lambda: restart_as_replica(master, replica), end)
        return Window(start, end, notes)


def restart_as_replica(node: LocalNode, master: LocalNode) -> None:
    """Start a killed node of a LocalSentinel again, as a replica of `master` (what Sentinel makes of an old master
    that comes back), empty: it syncs in full."""
    cmd = ["redis-server", "--port", str(node.port), "--bind", "127.0.0.1", "--dir", str(node.workdir)]
    cmd += ["--save", "", "--appendonly", "no", "--logfile", "redis.log", "--replicaof", "127.0.0.1", str(master.port)]
    node.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def rejoin(master, start_replica, end: float) -> float:
    """--rejoin: the killed master starts again as a replica of the promoted one, as a supervisor would restart it;
    returns the seconds from the fault's end until the new master has a replica in sync again."""
    start_replica()
    wait_until(lambda: int(master.client().info("replication").get("connected_slaves", 0)) >= 1, 30, "a replica")
    wait_until(lambda: replica_online(master), 30, "its sync")
    return round(time.monotonic() - end, 2)


def faults(stalls: list[float], unseen: list[float]) -> dict[str, Fault]:
    found: dict[str, Fault] = {}
    for mode, seconds in itertools.product(("ALL", "WRITE"), stalls):
        name = f"stall-{seconds:g}" if mode == "ALL" else f"stall-write-{seconds:g}"
        found[name] = Stall(name, "single", seconds=seconds, mode=mode)
    for seconds in unseen:
        name = f"stall-unseen-{seconds:g}"
        found[name] = Stall(name, "single", seconds=seconds, unseen=True)
    found["sigkill"] = KilledWriters("sigkill", "single", touches_redis=False)
    found["snapshot"] = SnapshotRestart("snapshot", "single")
    found["promotion"] = Promotion("promotion", "replicated")
    found["sentinel"] = SentinelFailover("sentinel", "sentinel")
    return found


# --- one group of faults, in its own process ----------------------------------------------------------------------


def overdue_rows() -> int:
    """Outbox rows older than two relay intervals: ones no writer nor relay applied in the time the relay is bound
    to (a younger row may be a write in flight)."""
    from datetime import timedelta

    from django.utils import timezone

    from core.cache import conf
    from core.models import CacheOutbox

    cutoff = timezone.now() - timedelta(seconds=2 * conf.outbox_relay_interval())
    return CacheOutbox.objects.filter(created_at__lte=cutoff).count()


def restore_names() -> None:
    """Give alice, bob and carol their names back: an earlier group's torture renamed them (alice-17), and prepare()
    signs them in by name."""
    from accounts.models import User

    for name in PEOPLE:
        User.objects.filter(username__regex=rf"^{name}-[0-9]+$").update(username=name)


def add_killed_targets(plan, history) -> None:
    """Errands of the board that no other writer owns, for the SIGKILLed writers; their titles start at 0."""
    from errands.models import Errand

    taken = {pk for pks in plan.targets.values() for pk in pks} | {plan.control}
    board = Errand.objects.order_by("-created_at", "-id").values_list("pk", flat=True)[:50]
    plan.targets["killed"] = [pk for pk in board if pk not in taken][:KILLED_ERRANDS]
    for errand_id in plan.targets["killed"]:
        Errand.objects.filter(pk=errand_id).update(title=title(errand_id, 0))
        history.wrote(("title", errand_id), 0, time.monotonic())


def run_group(names: list[str], args, db_url: str, workdir: Path) -> dict:
    catalogue = faults(args.stall_list, args.unseen_list)
    chosen = [catalogue[name] for name in names]
    began = time.monotonic()
    with contextlib.ExitStack() as stack:
        rig = SETUPS[chosen[0].setup](stack, workdir)
        if chosen[0].setup == "sentinel":
            rig.env["CACHE_REDIS_MIN_REPLICAS"] = args.sentinel_min_replicas
        env = rig.app_env = server_env(db_url, None, GRAPHQL_CACHE_DEBUG=True, **rig.env)
        server = Gunicorn(env, workdir / "gunicorn.log", args.threads)
        stack.callback(server.stop)
        server.start()
        setup_django(env)
        rig.ready()
        machine = machine_line(db_url, rig.client(), threads=args.threads)
        restore_names()
        plan, history = prepare(server.url)
        add_killed_targets(plan, history)
        watch = Stopwatch(24 * 3600)  # stopped below
        torture = Torture(server.url, plan, history, watch, max_operations=10**9, pause=WRITER_PAUSE)
        crashed: list[BaseException] = []
        load = threading.Thread(target=lambda: _catching(torture.run, crashed))
        load.start()
        windows = []
        try:
            # The readers and writers are running (the admin has signed in, the first answers came back).
            wait_until(lambda: torture.reads >= 20 or crashed, 60, "the torture to start")
            setup = time.monotonic() - began
            since = time.monotonic()
            time.sleep(args.before)  # in a group, the window after one fault is the load before the next
            for fault in chosen:
                window = fault.inject(rig, torture, args)
                time.sleep(args.after)
                window.notes["outbox_overdue"] = overdue_rows()
                windows.append((fault, since, window, time.monotonic()))
                since = time.monotonic()
        finally:
            watch.stop()
            load.join()
        if crashed:
            raise RuntimeError("the torture stopped") from crashed[0]
    results = {fault.name: measure(torture, fault, since, window, until) for fault, since, window, until in windows}
    failures = dict(torture.failures.most_common(10))
    log = (workdir / "gunicorn.log").read_text(errors="replace").splitlines()
    if args.logs:
        args.logs.mkdir(parents=True, exist_ok=True)
        (args.logs / f"{'+'.join(names)}.log").write_text("\n".join(log) + "\n")
    return {
        "machine": machine, "faults": results, "failures": failures, "setup_seconds": round(setup, 1),
        "server_log": server_log(log),
    }  # fmt: skip


def server_log(lines: list[str], limit: int = 8) -> dict[str, int]:
    """The servers' log lines, counted, numbers and addresses left out so that repeats group: what the cache said
    about the fault (warnings when Redis failed and recovered)."""
    counted: dict[str, int] = {}
    for line in lines:
        if " core.cache" not in line:
            continue  # Django's own warnings at start-up
        text = re.sub(r"\d+(\.\d+)?", "N", line.split("] ", 1)[-1])[:200]
        counted[text] = counted.get(text, 0) + 1
    return dict(sorted(counted.items(), key=lambda item: -item[1])[:limit])


def _catching(run, crashed: list[BaseException]) -> None:
    try:
        run()
    except BaseException as exc:
        crashed.append(exc)
        raise


def measure(torture: Torture, fault: Fault, since: float, window: Window, until: float) -> dict:
    """The fault's figures; 5xx and requests with no answer count from `since`, the load before it."""
    start, end = window.start, window.end
    history = torture.history
    stale_during = [s for s in history.stale(start, end) if s.key[0] != "control"]
    stale_after = [s for s in history.stale(end, until) if s.key[0] != "control"]
    replies = [reply for started, reply, _ in torture.replies if since <= started < until]
    reads = [r for _, r, who in torture.replies if who not in ("mutation", "admin")]
    hits_before = sum(1 for r in reads if since <= r.started < start and is_hit(r))
    reads_after = [r for r in reads if end <= r.started < until]
    hits_after = [r for r in reads_after if is_hit(r)]
    first_hit = min((r.started + r.elapsed for r in hits_after), default=None)
    writes = sum(
        1 for key, done in history.writes.items() if key[0] != "control" for at, seq in done if start <= at < end
    )
    return {
        "touches_redis": fault.touches_redis,
        "fault_seconds": round(end - start, 2),
        "writes_during": writes,
        "stale_during": len(stale_during),
        "stale_after": len(stale_after),
        "stale_late": sum(1 for s in stale_after if s.started - end > LATE),
        "last_stale_after_s": round(max(s.started - end for s in stale_after), 3) if stale_after else None,
        "stale_examples": [
            {**vars(s), "after_end_s": round(s.started - end, 3)} for s in [*stale_during, *stale_after][:5]
        ],
        "server_errors": sum(1 for r in replies if r.status >= 500),
        "no_answer": sum(1 for r in replies if r.status == 0),
        "hits_before": hits_before,
        "reads_after": len(reads_after),
        "hits_after": len(hits_after),
        "first_hit_after_s": round(first_hit - end, 3) if first_hit is not None else None,
        "control_stale": sum(1 for s in history.stale(start, until) if s.key[0] == "control"),
        "notes": window.notes,
    }


def met(found: dict) -> dict[str, bool]:
    stale_ok = found["stale_late"] == 0 and (
        found["touches_redis"] or found["stale_during"] + found["stale_after"] == 0
    )
    first = found["first_hit_after_s"]
    return {
        "stale": stale_ok,
        "errors": found["server_errors"] + found["no_answer"] == 0,
        "resume": first is not None and first <= RESUME,
        "fault happened": found["writes_during"] > 0,
    }


# --- the whole run ------------------------------------------------------------------------------------------------


def groups(names: list[str], shared: bool, catalogue: dict[str, Fault]) -> list[list[str]]:
    """One process per fault, or (shared) one per set-up with its faults in turn."""
    if not shared:
        return [[name] for name in names]
    by_setup: dict[str, list[str]] = {}
    for name in names:
        by_setup.setdefault(catalogue[name].setup, []).append(name)
    return list(by_setup.values())


def main(argv: list[str] | None = None) -> None:
    parser = arguments(
        __doc__.splitlines()[0], before=5.0, after=10.0, lost=2.0, kills=6, errands=300, threads=32,
        faults="", stalls="0.5,1.5,3", unseen_stalls="1.5",
    )  # fmt: skip
    parser.add_argument("--shared", action="store_true", help="one process per Redis set-up, not per fault")
    parser.add_argument("--rejoin", action="store_true", help="the killed master comes back as a replica at once")
    parser.add_argument(
        "--sentinel-min-replicas",
        type=int,
        default=0,
        help="CACHE_REDIS_MIN_REPLICAS of the sentinel set-up (default 0; 1: WAIT and hits only from a master that "
        "has a replica)",
    )
    parser.add_argument("--logs", type=Path, help="keep each group's gunicorn log here (<group>.log)")
    parser.add_argument("--group", help=argparse.SUPPRESS)  # the child's options
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.stall_list = [float(s) for s in args.stalls.split(",") if s]
    args.unseen_list = [float(s) for s in args.unseen_stalls.split(",") if s]
    if args.group:  # a child: one group of faults
        write_results(args.json, run_group(args.group.split(","), args, args.database_url, args.workdir))
        # Its Redis servers are gone by now: the cache's exit flush (core/cache/shutdown.py) would only wait for them
        # (with Sentinel, redis-py's default retries of the sentinel connections make that 10 s and more).
        sys.stdout.flush()
        os._exit(0)
    catalogue = faults(args.stall_list, args.unseen_list)
    names = [n for n in args.faults.split(",") if n] or list(catalogue)
    unknown = sorted(set(names) - set(catalogue))
    if unknown:
        sys.exit(f"unknown faults {unknown}; known: {sorted(catalogue)}")
    results: dict[str, Any] = {"faults": {}, "failures": {}, "errors": {}, "setup_seconds": {}}
    with tempfile.TemporaryDirectory(prefix="runam-bench-faults-") as tmp, scratch_database() as db_url:
        began = time.monotonic()
        prepare_database(server_env(db_url, None), args.errands)
        print(f"  database migrated and seeded: {time.monotonic() - began:.1f} s", flush=True)
        print(f"{args.errands} errands; {args.before:g} s of load before each fault, {args.after:g} s after it")
        for n, group in enumerate(groups(names, args.shared, catalogue)):
            found = run_child(group, args, db_url, Path(tmp) / f"group-{n}")
            if "machine" not in results:
                print(found.get("machine", ""))
            results["machine"] = found.get("machine", "")
            results["faults"].update(found.get("faults", {}))
            results["setup_seconds"][",".join(group)] = found.get("setup_seconds")
            results.setdefault("server_log", {})[",".join(group)] = found.get("server_log", {})
            results["failures"].update({f"{','.join(group)}: {k}": v for k, v in found.get("failures", {}).items()})
            if "error" in found:
                results["errors"][",".join(group)] = found["error"]
    ok = report(results, names)
    write_results(args.json, results)
    if not ok:
        sys.exit("fault bench: a target was not met")


def run_child(group: list[str], args, db_url: str, workdir: Path) -> dict:
    workdir.mkdir(parents=True)
    out = workdir / "results.json"
    command = [sys.executable, "-m", "bench.bench_faults", "--group", ",".join(group), "--database-url", db_url]
    command += ["--workdir", str(workdir), "--json", str(out), "--stalls", args.stalls, "--before", str(args.before)]
    command += ["--unseen-stalls", args.unseen_stalls]
    command += ["--after", str(args.after), "--lost", str(args.lost), "--kills", str(args.kills)]
    command += ["--threads", str(args.threads)] + ["--rejoin"] * args.rejoin
    command += ["--sentinel-min-replicas", str(args.sentinel_min_replicas)]
    command += ["--logs", str(args.logs.resolve())] if args.logs else []
    began = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    print(f"  {','.join(group)}: {time.monotonic() - began:.1f} s", flush=True)
    if not out.exists():
        # The traceback, without the servers' log lines that come with it.
        lines = [line for line in done.stderr.splitlines() if " WARNING " not in line and " INFO " not in line]
        return {"error": f"exit {done.returncode}: " + "\n".join(lines)[-3000:]}
    return json.loads(out.read_text())


def report(results: dict, names: list[str]) -> bool:
    found = results["faults"]
    rows = []
    for name in names:
        f = found.get(name)
        if f is None:
            rows.append([name, "did not run", *[""] * 12])
            continue
        checks = met(f)
        rows.append([
            name, f["hits_before"], f"{f['fault_seconds']:.2f}", f["writes_during"], f["stale_during"],
            f["stale_after"],
            f["stale_late"], "-" if f["last_stale_after_s"] is None else f"{f['last_stale_after_s']:.2f}",
            f["server_errors"], f["no_answer"],
            "never" if f["first_hit_after_s"] is None else f"{f['first_hit_after_s']:.2f}",
            f["notes"]["outbox_overdue"], f["control_stale"],
            "met" if all(checks.values()) else "NOT met: " + ", ".join(k for k, v in checks.items() if not v),
        ])  # fmt: skip
    print()
    print_table(
        ["fault", "hits before", "fault s", "writes during", "stale during", "stale after", f"stale > {LATE:g} s after",
         "last stale after end, s", "5xx", "no answer", "first hit after end, s", "outbox rows overdue",
         "control stale", "verdict"],
        rows,
    )  # fmt: skip
    print()
    print(f"targets: no stale read later than {LATE:g} s after a fault's end (none at all for sigkill, which leaves")
    print(f"Redis alone), no 5xx, a cache hit within {RESUME:g} s of the end; 'control stale': reads of the errand")
    print("changed by raw SQL, which invalidates nothing (the checker works when it is above 0 over the run)")
    for name in names:
        f = found.get(name) or {}
        if f.get("notes"):
            print(f"  {name}: {', '.join(f'{k} {v}' for k, v in f['notes'].items())}")
        for example in f.get("stale_examples", []):
            print(f"  {name}: e.g. {example}")
    for failure, count in results["failures"].items():
        print(f"  failed {count}x: {failure}")
    for group, error in results["errors"].items():
        print(f"  {group} did not finish: {error}")
    for group, lines in results.get("server_log", {}).items():
        if lines:
            print(f"  gunicorn's log, {group}:")
            for line, count in lines.items():
                print(f"    {count}x {line}")
    ok = all(name in found and all(met(found[name]).values()) for name in names)
    print()
    print(f"fault bench: {verdict(ok)}")
    return ok


if __name__ == "__main__":
    main()
