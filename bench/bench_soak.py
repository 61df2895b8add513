"""Soak: moderate mixed traffic for N minutes against gunicorn + Redis (+ PostgreSQL), sampled every 30 s.

Traffic (about 32 requests/s in all): anonymous board reads with a trickle of unique searches; signed-in
`me`, `myErrands` and `myEscrows`; and 2 to 5 writes/s made of full errand cycles (create -> accept -> fund ->
complete -> release) by the seeded users. Every 30 s it samples: RSS of each gunicorn worker, Redis used memory and
keys by family, req/s, p50/p99 latency, hit ratio (the servers' own counters), 5xx, and epoch bumps. After the
traffic, 90 s idle and one more sample (keys left after the short-lived entries expire).

It prints the samples, the slopes (MB/h per worker over the last 10 minutes, keys/h) and the first and last five
minutes side by side, against the targets of the soak issue. Run: `python -m bench soak --minutes 20`.
"""

from __future__ import annotations

import collections
import itertools
import random
import secrets
import sys
import threading
import time
from dataclasses import dataclass, field

import psutil

from bench.support import (
    GraphQLClient,
    Stack,
    Stopwatch,
    arguments,
    cache_counters,
    counter_delta,
    hit_rate,
    machine_line,
    percentile,
    print_table,
    token_for,
    verdict,
    write_results,
)

PASSWORD = "runam-demo-pass"
SAMPLE_SECONDS = 30
IDLE_SECONDS = 90
READS_PER_SECOND = 28
BOARD = """query Board($status: ErrandStatus) {
  errands(first: 20, status: $status) { id title budget createdBy { username } }
}"""
SEARCH = "query Search($s: String) { errands(first: 10, search: $s) { id title } }"
ME = "{ me { username email profile { country } } }"
MY_ERRANDS = "{ myErrands(first: 20) { id title status } }"
MY_ESCROWS = "{ myEscrows(first: 20) { id status amount errand { title } } }"
CREATE = """mutation($t: String!) { createErrand(input: {title: $t, description: "soak", category: "soak", budget: "10",
  pickupAddress: "a", dropoffAddress: "b"}) { errand { id } errors { code } } }"""
ACCEPT = "mutation($id: ID!) { acceptErrand(id: $id) { errand { id } errors { code } } }"
FUND = "mutation($id: ID!) { fundEscrow(errandId: $id) { escrow { id } errors { code } } }"
COMPLETE = "mutation($id: ID!) { completeErrand(id: $id) { errand { id } errors { code } } }"
RELEASE = "mutation($id: ID!) { releaseEscrow(id: $id) { escrow { id } errors { code } } }"


@dataclass
class Window:
    """What the clients saw since the last sample."""

    latencies: list[float] = field(default_factory=list)
    statuses: collections.Counter = field(default_factory=collections.Counter)
    writes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def seen(self, status: int, elapsed: float, *, write: bool = False) -> None:
        with self.lock:
            self.latencies.append(elapsed)
            self.statuses[status] += 1
            self.writes += write

    def take(self) -> Window:
        with self.lock:
            taken = Window(self.latencies, self.statuses, self.writes)
            self.latencies, self.statuses, self.writes = [], collections.Counter(), 0
        return taken


class Traffic:
    def __init__(self, base_url: str, tokens: dict[str, str], watch: Stopwatch, writes_per_second: float) -> None:
        self.base_url = base_url
        self.tokens = tokens
        self.watch = watch
        self.window = Window()
        self.writes_per_second = writes_per_second

    def reader(self, seed: int) -> None:
        rng = random.Random(seed)
        anonymous = GraphQLClient(self.base_url)
        signed_in = {name: GraphQLClient(self.base_url, token) for name, token in self.tokens.items()}
        interval = 4 / READS_PER_SECOND  # four reader threads
        next_at = time.monotonic()
        while self.watch.running():
            roll = rng.random()
            if roll < 0.45:
                reply = anonymous.post(BOARD, {"status": rng.choice([None, "OPEN", "COMPLETED"])})
            elif roll < 0.50:
                reply = anonymous.post(SEARCH, {"s": secrets.token_hex(4)})  # unique: a miss, and keys to expire
            else:
                client = signed_in[rng.choice(list(signed_in))]
                reply = client.post(rng.choice([ME, MY_ERRANDS, MY_ESCROWS]))
            self.window.seen(reply.status, reply.elapsed)
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))

    def writer(self) -> None:
        customer = GraphQLClient(self.base_url, self.tokens["alice"])
        runners = itertools.cycle([GraphQLClient(self.base_url, self.tokens[n]) for n in ("bob", "carol")])
        steps_per_cycle = 5
        interval = steps_per_cycle / self.writes_per_second
        next_at = time.monotonic()
        for n in itertools.count():
            if not self.watch.running():
                return
            runner = next(runners)
            created = customer.post(CREATE, {"t": f"soak {n}"})
            self.window.seen(created.status, created.elapsed, write=True)
            errand = ((created.data or {}).get("createErrand") or {}).get("errand")
            if errand is None:
                continue
            escrow_id = None
            for client, query, key in ((runner, ACCEPT, "id"), (customer, FUND, "id"), (runner, COMPLETE, "id")):
                reply = client.post(query, {key: errand["id"]})
                self.window.seen(reply.status, reply.elapsed, write=True)
                escrow = ((reply.data or {}).get("fundEscrow") or {}).get("escrow")
                escrow_id = escrow["id"] if escrow else escrow_id
            if escrow_id is not None:
                reply = customer.post(RELEASE, {"id": escrow_id})
                self.window.seen(reply.status, reply.elapsed, write=True)
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))


def workers_rss(master_pid: int) -> list[float]:
    try:
        children = psutil.Process(master_pid).children()
    except psutil.NoSuchProcess:
        return []
    return sorted(child.memory_info().rss / 2**20 for child in children)


def keys_by_family(redis) -> dict[str, int]:
    families: collections.Counter = collections.Counter()
    for key in redis.scan_iter(match="*", count=1000):
        parts = key.decode(errors="replace").split(":")
        family = parts[1] if len(parts) > 1 else parts[0]
        if family == "_g" and len(parts) > 2:
            family = f"_g:{parts[2]}"
        families[family] += 1
    return dict(families)


class EpochWatch:
    """Counts changes of the epoch token (each one invalidates every entry), polling it twice a second."""

    def __init__(self, redis, watch: Stopwatch) -> None:
        self.redis, self.watch, self.bumps = redis, watch, 0

    def run(self) -> None:
        last = self.redis.get("runam:_epoch")
        while self.watch.running():
            time.sleep(0.5)
            current = self.redis.get("runam:_epoch")
            if current != last and last is not None:
                self.bumps += 1
            last = current


def sample(minute: float, window: Window, seconds: float, counters: dict, master_pid: int, redis, epoch) -> dict:
    info = redis.info("memory")
    latencies = [ms * 1000 for ms in window.latencies]
    return {
        "minute": round(minute, 1),
        "rps": round(len(latencies) / seconds, 1),
        "writes": window.writes,
        "p50_ms": round(percentile(latencies, 50), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "hit_ratio": round(hit_rate(counters), 3),
        "5xx": sum(n for status, n in window.statuses.items() if status >= 500 or status == 0),
        "rss_mb": [round(rss, 1) for rss in workers_rss(master_pid)],
        "redis_mb": round(info["used_memory"] / 2**20, 1),
        "keys": redis.dbsize(),
        "families": keys_by_family(redis),
        "epoch_bumps": epoch.bumps,
    }


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (minute, value) points, per hour."""
    if len(points) < 2:
        return float("nan")
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    return 60 * sum((x - mean_x) * (y - mean_y) for x, y in points) / var if var else float("nan")


def main() -> None:
    options = arguments(
        __doc__.splitlines()[0],
        minutes=20.0,
        errands=300,
        writes_per_second=3.0,
        sample_seconds=float(SAMPLE_SECONDS),
        idle_seconds=float(IDLE_SECONDS),
    ).parse_args()
    with Stack.open(errands=options.errands) as stack:
        redis = stack.redis.client()
        print(machine_line(stack.db_url, redis))
        server = stack.server()
        tokens = {name: token_for(server.url, name, PASSWORD) for name in ("alice", "bob", "carol")}
        watch = Stopwatch(options.minutes * 60)
        traffic = Traffic(server.url, tokens, watch, options.writes_per_second)
        epoch = EpochWatch(redis, watch)
        threads = [threading.Thread(target=traffic.reader, args=(i,), daemon=True) for i in range(4)]
        threads += [
            threading.Thread(target=traffic.writer, daemon=True),
            threading.Thread(target=epoch.run, daemon=True),
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        samples, last_counters = [], cache_counters(redis)
        while watch.running():
            time.sleep(max(0.0, min(options.sample_seconds - 1.5, watch.deadline - time.monotonic())))
            counters = cache_counters(redis)  # waits for the servers' 1 s flush
            minute = (time.monotonic() - started) / 60
            samples.append(
                sample(
                    minute,
                    traffic.window.take(),
                    options.sample_seconds,
                    counter_delta(last_counters, counters),
                    server.proc.pid,
                    redis,
                    epoch,
                )
            )
            last_counters = counters
            print(
                f"  minute {samples[-1]['minute']}: {samples[-1]['rps']} req/s, hit {samples[-1]['hit_ratio']}, "
                f"p99 {samples[-1]['p99_ms']} ms, keys {samples[-1]['keys']}, rss {samples[-1]['rss_mb']}",
                flush=True,
            )
        watch.stop()
        for thread in threads:
            thread.join(timeout=60)
        live_entries = sum(n for family, n in samples[-1]["families"].items() if not family.startswith("_"))
        time.sleep(options.idle_seconds)
        idle = sample(
            (time.monotonic() - started) / 60,
            traffic.window.take(),
            options.idle_seconds,
            {},
            server.proc.pid,
            redis,
            epoch,
        )
    ok = report(samples, idle, live_entries, options.minutes, options.idle_seconds)
    write_results(options.json, {"samples": samples, "idle": idle, "live_entries": live_entries})
    if not ok:
        sys.exit(1)


def report(samples: list[dict], idle: dict, live_entries: int, minutes: float, idle_seconds: float) -> bool:
    print_table(
        ["minute", "req/s", "writes", "p50 ms", "p99 ms", "hit", "5xx", "worker RSS MB", "Redis MB", "keys", "epoch"],
        [
            [
                s["minute"],
                s["rps"],
                s["writes"],
                s["p50_ms"],
                s["p99_ms"],
                s["hit_ratio"],
                s["5xx"],
                "/".join(map(str, s["rss_mb"])),
                s["redis_mb"],
                s["keys"],
                s["epoch_bumps"],
            ]
            for s in samples
        ],
    )
    warm = [s for s in samples if s["minute"] > 1]  # the first minute warms the cache
    first = [s for s in warm if s["minute"] <= 6]
    last = [s for s in warm if s["minute"] > minutes - 5]

    def mean(rows, key):
        return sum(r[key] for r in rows) / len(rows) if rows else float("nan")

    recent = [s for s in samples if s["minute"] > minutes - 10]
    rss_slopes = [
        slope_per_hour([(s["minute"], s["rss_mb"][i]) for s in recent if len(s["rss_mb"]) > i])
        for i in range(len(samples[-1]["rss_mb"]))
    ]
    keys_slope = slope_per_hour([(s["minute"], s["keys"]) for s in recent])
    checks = {
        "hit ratio, last 5 min within 20 % of first 5": abs(mean(last, "hit_ratio") - mean(first, "hit_ratio"))
        <= 0.2 * mean(first, "hit_ratio"),
        "p99, last 5 min within 20 % of first 5": mean(last, "p99_ms") <= 1.2 * mean(first, "p99_ms"),
        "worker RSS slope over the last 10 min < 10 MB/h": all(slope < 10 for slope in rss_slopes),
        "Redis keys after the idle time within 2x the live entries": idle["keys"] <= 2 * max(live_entries, 1),
        "no 5xx": sum(s["5xx"] for s in samples) == 0,
        "no epoch bump": samples[-1]["epoch_bumps"] == 0,
    }
    print_table(
        ["", "first 5 min", "last 5 min"],
        [
            ["hit ratio", round(mean(first, "hit_ratio"), 3), round(mean(last, "hit_ratio"), 3)],
            ["p99 ms", round(mean(first, "p99_ms"), 1), round(mean(last, "p99_ms"), 1)],
            ["req/s", round(mean(first, "rps"), 1), round(mean(last, "rps"), 1)],
        ],
    )
    print(f"worker RSS slopes (MB/h, last 10 min): {[round(s, 1) for s in rss_slopes]}; keys/h: {keys_slope:.0f}")
    print(
        f"after {IDLE_SECONDS} s idle: {idle['keys']} keys ({live_entries} live entries at the end of traffic); "
        f"families {idle['families']}"
    )
    print_table(["target", "verdict"], [[name, verdict(met)] for name, met in checks.items()])
    return all(checks.values())


if __name__ == "__main__":
    main()
