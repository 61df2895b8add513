"""Redis outage under load: stop redis-server for 10 s, start it again, and count what clients saw.

The freshness torture (bench_freshness: every write path, anonymous and signed-in readers) runs throughout against
gunicorn with GRAPHQL_CACHE_DEBUG on, so every response says whether the cache served it. redis-server is stopped
with SIGTERM and saves its data first, so the restart brings back every entry from before the outage: the hard case,
since the invalidations of writes made during the outage never reached it. Figures: 5xx (target 0), latency before,
during and after, time from the restart to the first cache hit (target <= 5 s), and stale reads after recovery
(target 0), side by side with the minutes before the outage.

Run: `python -m bench outage` (`--outage`, `--before`, `--after` in seconds).
"""

from __future__ import annotations

import sys
import threading
import time

from bench.bench_freshness import Torture, prepare, summarize
from bench.support import (
    Reply,
    Stack,
    Stopwatch,
    arguments,
    machine_line,
    percentile,
    print_table,
    setup_django,
    verdict,
    write_results,
)

TARGET_RESUME_SECONDS = 5.0
WRITER_PAUSE = 0.5  # mean seconds between a writer's calls: hits between writes, and writes during the outage


def is_hit(reply: Reply) -> bool:
    cache = ((reply.body or {}).get("extensions") or {}).get("cache") or {}
    return cache.get("operation") == "HIT" or any(f.get("status") == "HIT" for f in cache.get("fields", []))


def window(torture: Torture, since: float, until: float) -> dict:
    replies = [reply for started, reply, who in torture.replies if since <= started < until]
    reads = [
        reply
        for _, reply, who in torture.replies
        if since <= reply.started < until and who not in ("mutation", "admin")
    ]
    latencies = [reply.elapsed * 1000 for reply in reads]
    summary = summarize(torture, since, until, {})
    return {
        "seconds": round(until - since, 1),
        "requests": len(replies),
        "server_errors": sum(1 for reply in replies if reply.status >= 500),
        "no_answer": sum(1 for reply in replies if reply.status == 0),
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "hits": sum(1 for reply in reads if is_hit(reply)),
        "writes": sum(1 for done, _ in _completed_writes(torture) if since <= done < until),
        "stale": summary["stale"],
        "stale_examples": summary["stale_examples"],
    }  # fmt: skip


def _completed_writes(torture: Torture):
    for key, writes in torture.history.writes.items():
        if key[0] != "control":
            yield from writes


def main(argv: list[str] | None = None) -> None:
    args = arguments(__doc__.splitlines()[0], outage=10.0, before=5.0, after=15.0, errands=300).parse_args(argv)
    with Stack.open(errands=args.errands, persist=True) as stack:
        server = stack.server(GRAPHQL_CACHE_DEBUG=True)
        setup_django(stack.env())
        print(machine_line(stack.db_url, stack.redis.client()))
        plan, history = prepare(server.url)
        begin = time.monotonic()
        watch = Stopwatch(args.before + args.outage + args.after)
        torture = Torture(server.url, plan, history, watch, max_operations=10**9, pause=WRITER_PAUSE)
        load = threading.Thread(target=torture.run)
        load.start()
        time.sleep(args.before)
        stack.redis.stop()
        stopped = time.monotonic()  # the process has exited: from here on nothing can be a hit
        time.sleep(args.outage)
        restarted = time.monotonic()  # the windows and the time to the first hit count from the restart's start
        stack.redis.start()
        restored = stack.redis.client().dbsize()  # what it saved at shutdown and loaded: pre-outage entries
        load.join()
        end = time.monotonic()
    windows = {
        "before": window(torture, begin, stopped),
        "outage": window(torture, stopped, restarted),
        "after": window(torture, restarted, end),
    }
    first_hit = min(
        (r.started + r.elapsed for s, r, _ in torture.replies if s >= restarted and is_hit(r)), default=None
    )
    resume = first_hit - restarted if first_hit is not None else float("inf")
    print(f"redis-server restarted with {restored:,} keys saved at shutdown, entries from before the outage among them")
    report(windows, resume, args)
    results = {"windows": windows, "resume_seconds": resume, "restored_keys": restored}
    results["failures"] = dict(torture.failures.most_common(10))
    write_results(args.json, results)
    after = windows["after"]
    bad = sum(w["server_errors"] + w["no_answer"] for w in windows.values())
    if bad or after["stale"] or resume > TARGET_RESUME_SECONDS or not (windows["outage"]["writes"] and restored):
        sys.exit("outage bench failed")


def report(windows: dict, resume: float, args) -> None:
    print(f"outage of {args.outage:g} s after {args.before:g} s of load; {args.after:g} s of load after the restart")
    print()
    print_table(
        ["window", "seconds", "requests", "5xx", "no answer", "read p50 ms", "read p99 ms", "cache hits", "writes",
         "stale reads"],
        [
            [name, w["seconds"], f"{w['requests']:,}", w["server_errors"], w["no_answer"], f"{w['p50_ms']:.0f}",
             f"{w['p99_ms']:.0f}", f"{w['hits']:,}", w["writes"], w["stale"]]
            for name, w in windows.items()
        ],
    )  # fmt: skip
    before, outage, after = windows.values()
    errors = sum(w["server_errors"] for w in windows.values())
    print()
    print_table(
        ["figure", "value", "target", "verdict"],
        [
            ["5xx responses", errors, "0", verdict(errors == 0)],
            ["read p99 during the outage, ms", f"{outage['p99_ms']:.0f}", "-", ""],
            ["read p99 during / before the outage", f"{outage['p99_ms'] / before['p99_ms']:.2f}", "-", ""],
            ["time from restart to the first hit, s", f"{resume:.2f}", f"<= {TARGET_RESUME_SECONDS:g}",
             verdict(resume <= TARGET_RESUME_SECONDS)],
            ["writes during the outage (lost invalidations)", outage["writes"], "> 0", verdict(outage["writes"] > 0)],
            ["stale reads after recovery", after["stale"], "0", verdict(after["stale"] == 0)],
        ],
    )  # fmt: skip
    for example in [*outage["stale_examples"], *after["stale_examples"]]:
        print(f"  e.g. {example}")


if __name__ == "__main__":
    main()
