"""Several app hosts on one Redis Cluster: the freshness torture over three gunicorn hosts, a master killed mid-run.

A Redis Cluster of 3 masters and 3 replicas on free loopback ports, a scratch database (PostgreSQL;
BENCH_DATABASE_URL=sqlite:// for a temp file) and three gunicorn "hosts": separate processes, each with its own
environment, one shared secret, 127.0.0.1 on different ports. The freshness torture (bench_freshness) runs with its
readers and writers spread over the hosts: tokens minted by one host are used on the others, the admin signs in on one
host and saves through another, the ORM writers run in this process (a fourth host). When half the operations are
done, the master serving the cache's first partition gets SIGKILL; its replica takes over.

Prints operations, stale reads, leaks, 5xx and the hit rate before, during and after the failover; commands per
master (INFO commandstats of each node) and whether each is within ±25 % of the mean; hit p50/p99; what one
Errand.save() sends to the cluster.

--negative-control: the same hosts with local memory each and no Redis (each its own journal file, as separate
machines have): it must show stale reads, or the run proves nothing.

Run: `python -m bench cluster` (`--operations`, `--seconds`, `--negative-control`, `--no-kill`; `--partitions N` and
`--partition-by key|process|thread` set CACHE_PARTITIONS and CACHE_PARTITION_BY on every host).
"""

from __future__ import annotations

import collections
import contextlib
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.bench_freshness import Torture, prepare, summarize
from bench.bench_outage import is_hit
from bench.support import (
    Gunicorn,
    LocalCluster,
    LocalNode,
    Stopwatch,
    arguments,
    machine_line,
    percentile,
    prepare_database,
    print_table,
    scratch_database,
    server_env,
    setup_django,
    verdict,
    write_results,
)

HOSTS = 3
WRITER_PAUSE = 0.5  # mean seconds between a writer's calls: entries live long enough to be hit between writes
BALANCE = 0.25  # each master's commands within ±25 % of the mean
SAVES = 50  # Errand.save() calls measured for the write cost
# What monitoring, cluster bookkeeping and replication send: not the app's load.
NOT_LOAD = {"info", "cluster", "ping", "command", "client", "config", "slowlog", "hello", "readonly", "replconf",
            "psync", "sync", "flushall", "dbsize", "scan"}  # fmt: skip


def commandstats(node: LocalNode) -> collections.Counter:
    """Calls and microseconds per command on one node (`calls:<cmd>`, `usec:<cmd>`)."""
    stats = collections.Counter()
    for name, row in node.client().info("commandstats").items():
        command = name.removeprefix("cmdstat_")
        stats[f"calls:{command}"] += int(row["calls"])
        stats[f"usec:{command}"] += int(row["usec"])
    return stats


def load_of(stats: collections.Counter) -> tuple[int, int]:
    """(calls, usec) of the app's commands."""
    rows = [(name.split(":", 1), n) for name, n in stats.items()]
    calls = sum(n for (kind, cmd), n in rows if kind == "calls" and cmd.split("|")[0] not in NOT_LOAD)
    usec = sum(n for (kind, cmd), n in rows if kind == "usec" and cmd.split("|")[0] not in NOT_LOAD)
    return calls, usec


class Shards:
    """Commands per shard (a master's slots) over the run, across a failover: each stretch counts on the node that
    is the shard's master when it closes (the killed master's up to just before its death, then its replica's)."""

    def __init__(self, cluster: LocalCluster) -> None:
        self.cluster = cluster
        self.calls: collections.Counter = collections.Counter()
        self.usec: collections.Counter = collections.Counter()
        self.ports: dict[int, int] = {}  # first slot -> port of its master at the last count
        self.snapshot = {node: commandstats(node) for node in cluster.live()}

    def close_stretch(self) -> None:
        """Count what each shard's master served since the last count (call just before a kill, and at the end)."""
        for node, ranges in self.cluster.slots().items():
            if node in self.snapshot:
                first = ranges[0][0]
                calls, usec = load_of(commandstats(node) - self.snapshot[node])
                self.calls[first] += calls
                self.usec[first] += usec
                self.ports[first] = node.port
        self.snapshot = {node: commandstats(node) for node in self.cluster.live()}

    def rows(self) -> list[tuple[int, int, int]]:
        """(first slot, port of its master now, calls) per shard."""
        return [(first, self.ports.get(first, 0), self.calls[first]) for first in sorted(self.calls)]

    def busy(self) -> dict[int, int]:
        """Microseconds of command time per shard (first slot)."""
        return {first: self.usec[first] for first in sorted(self.usec)}


def operation_hit(reply) -> bool:
    """The whole response came from the cache (is_hit also counts a response with one cached field)."""
    return ((reply.body or {}).get("extensions") or {}).get("cache", {}).get("operation") == "HIT"


def window(torture: Torture, since: float, until: float) -> dict:
    reads = [r for _, r, who in torture.replies if since <= r.started < until and who not in ("mutation", "admin")]
    replies = [r for started, r, _ in torture.replies if since <= started < until]
    summary = summarize(torture, since, until, {})
    hits = [r for r in reads if is_hit(r)]
    return {
        "seconds": round(until - since, 1),
        "requests": len(replies),
        "server_errors": sum(1 for r in replies if r.status >= 500),
        "no_answer": sum(1 for r in replies if r.status == 0),
        "reads": len(reads),
        "hits": len(hits),
        "hit_rate": len(hits) / len(reads) if reads else 0.0,
        "hit_ms": (hit_ms := [r.elapsed * 1000 for r in reads if operation_hit(r)]),
        "hit_p50_ms": percentile(hit_ms, 50),
        "hit_p99_ms": percentile(hit_ms, 99),
        "miss_ms": [r.elapsed * 1000 for r in reads if not is_hit(r)],
        "stale": summary["stale"],
        "stale_examples": summary["stale_examples"],
        "control_stale": summary["control_stale"],
    }


def save_cost(cluster: LocalCluster, saves: int) -> dict:
    """What one Errand.save() (a tracked write: begin and settle) sends to the cluster, summed over the masters."""
    from errands.models import Errand

    errand = Errand.objects.order_by("id").first()
    masters = cluster.masters()
    before = {node: commandstats(node) for node in masters}
    for n in range(saves):
        errand.title = f"cost {n}"
        errand.save()
    per_command: collections.Counter = collections.Counter()
    for node in masters:
        for name, value in (commandstats(node) - before[node]).items():
            kind, command = name.split(":", 1)
            if command.split("|")[0] not in NOT_LOAD:
                per_command[(kind, command)] += value
    calls = {cmd: n / saves for (kind, cmd), n in per_command.items() if kind == "calls"}
    usec = sum(n for (kind, _), n in per_command.items() if kind == "usec") / saves
    return {"commands": dict(sorted(calls.items(), key=lambda kv: -kv[1])), "calls": sum(calls.values()), "usec": usec}


def main(argv: list[str] | None = None) -> None:
    parser = arguments(__doc__.splitlines()[0], operations=10_000, seconds=300.0, errands=300, workers=1, threads=8)
    parser.add_argument("--negative-control", action="store_true", help="local memory per host, no Redis")
    parser.add_argument("--no-kill", action="store_true", help="no master killed (a shorter CI run)")
    parser.add_argument("--partitions", type=int, default=0, help="CACHE_PARTITIONS (0: the default, 12)")
    parser.add_argument(
        "--partition-by", choices=("key", "process", "thread"), default="thread", help="CACHE_PARTITION_BY"
    )
    args = parser.parse_args(argv)
    control = args.negative_control
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="runam-bench-cluster-")))
        db_url = stack.enter_context(scratch_database())
        cluster = None if control else stack.enter_context(LocalCluster(workdir / "cluster"))

        def env(host: str) -> dict[str, str]:
            if cluster is None:  # one journal per host: separate machines share no file
                return server_env(db_url, None, GRAPHQL_CACHE_DEBUG=True, CACHE_LOCMEM_JOURNAL=workdir / host)
            return server_env(
                db_url,
                None,
                GRAPHQL_CACHE_DEBUG=True,
                REDIS_CLUSTER_NODES=",".join(cluster.addresses),
                CACHE_PARTITIONS=args.partitions,
                CACHE_PARTITION_BY=args.partition_by,
            )

        prepare_database(server_env(db_url, None, CACHE_LOCMEM_JOURNAL=""), args.errands)
        servers = []
        for n in range(HOSTS):
            server = Gunicorn(env(f"host-{n}"), workdir / f"gunicorn-{n}.log", args.threads, args.workers)
            stack.callback(server.stop)
            servers.append(server.start())
        setup_django(env("bench"))
        first_node = None if cluster is None else cluster.nodes[0].client()
        print(machine_line(db_url, first_node, workers=args.workers, threads=args.threads))
        print(
            f"{HOSTS} gunicorn hosts ({', '.join(s.url for s in servers)}), "
            + (
                "local memory each, no Redis (negative control)"
                if control
                else f"Redis Cluster 3 masters + 3 replicas, {partitions_line()}"
            )
            + f"; at most {args.operations:,} operations or {args.seconds:g} s"
        )
        results = run(args, cluster, servers)
    ok = report(results, args)
    write_results(args.json, results)
    if not ok:
        sys.exit("cluster bench failed")


def partitions_line() -> str:
    from core.cache import conf, partitions

    return f"{len(partitions.current())} partitions by {conf.partition_by()}"


def run(args, cluster: LocalCluster | None, servers: list[Gunicorn]) -> dict:
    from core.cache import partitions

    first = partitions.current()[0]  # the hash tag of the first partition: its master is the victim
    plan, history = prepare(servers[0].url)
    shards = Shards(cluster) if cluster is not None else None
    bound = history.operations + args.operations  # prepare() counted its initial writes
    urls = [server.url for server in servers]
    torture = Torture(urls[0], plan, history, Stopwatch(args.seconds), bound, WRITER_PAUSE, urls)
    begin = time.monotonic()
    load = threading.Thread(target=torture.run)
    load.start()
    failover: dict = {}
    if cluster is not None and not args.no_kill:
        while load.is_alive() and history.operations < bound - args.operations // 2:
            time.sleep(0.05)
        victim = cluster.master_of(first)
        shards.close_stretch()
        failover["killed_port"] = victim.port
        failover["killed"] = time.monotonic()
        cluster.kill(victim)
        while time.monotonic() - failover["killed"] < 60:
            with contextlib.suppress(RuntimeError):
                failover["promoted_port"] = cluster.master_of(first).port
                break
            time.sleep(0.05)
        failover["promoted"] = time.monotonic()
    load.join()
    end = time.monotonic()
    if failover:
        killed, promoted = failover["killed"], failover["promoted"]
        spans = {"before": (begin, killed), "failover": (killed, promoted), "after": (promoted, end)}
    else:
        spans = {"run": (begin, end)}
    windows = {name: window(torture, since, until) for name, (since, until) in spans.items()}
    hit_ms = [ms for w in windows.values() for ms in w.pop("hit_ms")]
    for w in windows.values():
        w["miss_p50_ms"] = percentile(w.pop("miss_ms"), 50)
    reads, hits = sum(w["reads"] for w in windows.values()), sum(w["hits"] for w in windows.values())
    results = {
        "windows": windows,
        "operations": sum(torture.writes.values()) + torture.reads,
        "writes": dict(torture.writes),
        **{key: sum(w[key] for w in windows.values()) for key in ("stale", "control_stale", "server_errors")},
        "no_answer": sum(w["no_answer"] for w in windows.values()),
        "leaks": len(torture.leaks),
        "leak_examples": torture.leaks[:5],
        "hit_rate": hits / reads if reads else 0.0,
        "hit_p50_ms": percentile(hit_ms, 50),
        "hit_p99_ms": percentile(hit_ms, 99),
        "failures": dict(torture.failures.most_common(10)),
    }
    if failover:
        results["failover"] = {
            "killed_port": failover["killed_port"],
            "promoted_port": failover.get("promoted_port"),
            "seconds_to_replica": round(failover["promoted"] - failover["killed"], 2),
        }
    if cluster is not None:
        shards.close_stretch()
        results["shards"] = shards.rows()
        results["shard_usec"] = shards.busy()
        results["seconds"] = round(end - begin, 1)
        results["save_cost"] = save_cost(cluster, SAVES)
    return results


def report(results: dict, args) -> bool:
    windows = results["windows"]
    print()
    print_table(
        ["window", "seconds", "requests", "reads", "hit rate", "hit p50 ms", "hit p99 ms", "miss p50 ms", "5xx",
         "no answer", "stale", "control stale"],
        [
            [name, w["seconds"], f"{w['requests']:,}", f"{w['reads']:,}", f"{w['hit_rate']:.0%}",
             f"{w['hit_p50_ms']:.1f}", f"{w['hit_p99_ms']:.1f}", f"{w['miss_p50_ms']:.1f}", w["server_errors"],
             w["no_answer"], w["stale"], w["control_stale"]]
            for name, w in windows.items()
        ],
    )  # fmt: skip
    writes = "/".join(str(results["writes"].get(p, 0)) for p in ("mutation", "save", "update", "admin"))
    stale = results["stale"]
    rows = [
        ["operations (reads + writes)", f"{results['operations']:,}", f">= {args.operations:,}",
         verdict(results["operations"] >= args.operations)],
        ["writes (mutation/save/update/admin)", writes, "", ""],
        ["stale reads (local memory per host)", stale, "> 0", verdict(stale > 0)] if args.negative_control
        else ["stale reads", stale, "0", verdict(stale == 0)],
        ["cross-user leaks (alice, bob, carol)", results["leaks"], "0", verdict(results["leaks"] == 0)],
        ["5xx responses", results["server_errors"], "0", verdict(results["server_errors"] == 0)],
        ["hit rate (reads answered from the cache)", f"{results['hit_rate']:.0%}", "", ""],
        ["hit p50 / p99, ms (whole response from the cache)",
         f"{results['hit_p50_ms']:.1f} / {results['hit_p99_ms']:.1f}", "", ""],
        ["control: stale reads after raw SQL (checker works)", results["control_stale"], "> 0",
         verdict(results["control_stale"] > 0)],
    ]  # fmt: skip
    if "failover" in results:
        f = results["failover"]
        rows.append([f"master :{f['killed_port']} killed (SIGKILL): its replica :{f['promoted_port']} served after, s",
                     f"{f['seconds_to_replica']:.1f}", "", ""])  # fmt: skip
    if "shards" in results:
        mean = sum(calls for _, _, calls in results["shards"]) / len(results["shards"])
        spread = [abs(calls - mean) <= BALANCE * mean for _, _, calls in results["shards"]]
        rows.append(["commands per master within ±25 % of the mean", f"{sum(spread)} of {len(spread)}", "all",
                     verdict(all(spread))])  # fmt: skip
    print()
    print_table(["figure", "value", "target", "verdict"], rows)
    if "shards" in results:
        print()
        print("commands per master (INFO commandstats of each node, those inside scripts included; monitoring and")
        print("replication left out):")
        print_table(
            ["shard", "master now", "commands", "vs mean", "within ±25 %", "command time, s", "busy"],
            [
                [f"slots from {first}", f":{port}", f"{calls:,}", f"{calls / mean - 1:+.0%}" if mean else "-",
                 verdict(abs(calls - mean) <= BALANCE * mean), f"{results['shard_usec'][first] / 1e6:.1f}",
                 f"{results['shard_usec'][first] / 1e6 / results['seconds']:.0%}"]
                for first, port, calls in results["shards"]
            ],
        )  # fmt: skip
        cost = results["save_cost"]
        top = ", ".join(f"{cmd.upper()} {n:.1f}" for cmd, n in list(cost["commands"].items())[:8])
        print()
        print(f"write cost per Errand.save(), over {SAVES} saves: {cost['calls']:.1f} commands ({top}),")
        print(f"{cost['usec']:.0f} µs of Redis time (commands inside scripts counted; EVALSHA is one request each)")
    for w in windows.values():
        for example in w["stale_examples"]:
            print(f"  e.g. {example}")
    for example in results["leak_examples"]:
        print(f"  e.g. {example}")
    for failure, count in results["failures"].items():
        print(f"  failed {count}x: {failure}")
    ok = results["operations"] >= args.operations and results["control_stale"] > 0 and not results["leaks"]
    if args.negative_control:
        return ok and stale > 0
    promoted = "failover" not in results or results["failover"]["promoted_port"] is not None
    answered = results["server_errors"] == results["no_answer"] == 0
    return ok and stale == 0 and answered and promoted and balanced(results)


def balanced(results: dict) -> bool:
    """Every master's commands within ±25 % of the mean (true without shards: the negative control has none)."""
    shards = results.get("shards") or []
    mean = sum(calls for _, _, calls in shards) / len(shards) if shards else 0
    return all(abs(calls - mean) <= BALANCE * mean for _, _, calls in shards)


if __name__ == "__main__":
    main()
