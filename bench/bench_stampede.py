"""Stampede: 64 concurrent cold requests for one key. Root resolver runs (target: 1) and latency, side by side with
the cache disabled, where every request runs the resolver.

Each round sends one new document (a new fragment name, so a new key at both cache levels) from 64 threads released
together on keep-alive connections; gunicorn has 2 workers x 32 threads, so all 64 are in the server at once. Runs
are counted by bench/server.py's ResolverCounter, which sits inside the field cache: only a computation reaches it.

Run: `python -m bench stampede`.
"""

from __future__ import annotations

import secrets
import sys
import threading

from bench.bench_throughput import FRAGMENT
from bench.server import RESOLVER_RUNS_KEY
from bench.support import (
    GraphQLClient,
    Reply,
    Stack,
    arguments,
    machine_line,
    percentile,
    print_table,
    verdict,
    write_results,
)

ERRANDS = 500
TARGET_RUNS = 1


def fire(clients: list[GraphQLClient], query: str) -> list[Reply]:
    """Every client posts `query` at the same instant; their replies."""
    barrier = threading.Barrier(len(clients))
    replies: list[Reply | None] = [None] * len(clients)

    def one(index: int) -> None:
        barrier.wait(timeout=30)
        replies[index] = clients[index].post(query)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return [reply for reply in replies if reply is not None]


def measure(stack: Stack, base_url: str, *, concurrency: int, rounds: int) -> dict:
    clients = [GraphQLClient(base_url) for _ in range(concurrency)]
    fire(clients, "{ __typename }")  # open every keep-alive connection first: rounds measure requests, not TCP
    redis = stack.redis.client()
    runs, latencies, bad, mismatched = [], [], 0, 0
    for _ in range(rounds):
        name = f"S{secrets.token_hex(4)}"
        query = f"query Board {{ errands(first: 50) {{ ...{name} }} }} fragment {name} {FRAGMENT}"
        before = int(redis.hget(RESOLVER_RUNS_KEY, "errands") or 0)
        replies = fire(clients, query)
        runs.append(int(redis.hget(RESOLVER_RUNS_KEY, "errands") or 0) - before)
        latencies += [reply.elapsed * 1000 for reply in replies]
        bad += sum(1 for reply in replies if reply.status != 200 or reply.errors) + concurrency - len(replies)
        bodies = {repr(reply.data) for reply in replies}
        mismatched += len(bodies) - 1  # every request of a round must see the same answer
    return {
        "requests": len(latencies),
        "max_runs": max(runs),
        "mean_runs": sum(runs) / len(runs),
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies),
        "failed": bad,
        "mismatched": mismatched,
    }


def main(argv: list[str] | None = None) -> None:
    args = arguments(__doc__.splitlines()[0], concurrency=64, rounds=10).parse_args(argv)
    with Stack.open(errands=ERRANDS) as stack:
        off = stack.server(CACHE_ENABLED=False, BENCH_COUNT_RESOLVERS=True)
        on = stack.server(BENCH_COUNT_RESOLVERS=True)
        print(machine_line(stack.db_url, stack.redis.client()))
        print(f"{args.rounds} rounds of {args.concurrency} concurrent requests, a new key each round")
        results = {
            "cache disabled": measure(stack, off.url, concurrency=args.concurrency, rounds=args.rounds),
            "cache enabled": measure(stack, on.url, concurrency=args.concurrency, rounds=args.rounds),
        }
    print()
    print_table(
        ["run", "requests", "resolver runs/round (max)", "(mean)", "p50 ms", "p99 ms", "max ms", "failed"],
        [
            [name, r["requests"], r["max_runs"], f"{r['mean_runs']:.1f}", f"{r['p50_ms']:.0f}", f"{r['p99_ms']:.0f}",
             f"{r['max_ms']:.0f}", r["failed"] + r["mismatched"]]
            for name, r in results.items()
        ],
    )  # fmt: skip
    on_r, off_r = results["cache enabled"], results["cache disabled"]
    print()
    print_table(
        ["figure", "value", "target", "verdict"],
        [
            ["resolver runs per round, cache enabled", on_r["max_runs"], f"{TARGET_RUNS}",
             verdict(on_r["max_runs"] <= TARGET_RUNS)],
            ["p99 latency, enabled / disabled", f"{on_r['p99_ms'] / off_r['p99_ms']:.2f}", "-", ""],
        ],
    )  # fmt: skip
    write_results(args.json, results)
    failed = sum(r["failed"] + r["mismatched"] for r in results.values())
    if failed or on_r["max_runs"] > TARGET_RUNS:
        sys.exit(f"{failed} failed or inconsistent replies; {on_r['max_runs']} resolver runs in a round")


if __name__ == "__main__":
    main()
