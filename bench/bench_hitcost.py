"""Redis work per cache hit against a GET of the same bytes, as the page grows, this tree and a baseline side by side.

For each tree (`--engine-ref`, default 6a0a12e, the last head of the first engine design, from `git archive`; and
this tree): a scratch database seeded with `--errands` errands, its own redis-server, gunicorn. For each page size
(`errands(first: N) { id title createdBy { username } }`, the board): one request fills the cache, then `--hits`
requests are served from it; Redis's `INFO commandstats` (reset before the hits) gives the server time of the
lookups, and as many reads of the stored entry's own bytes (`GETRANGE 0 -1`, the cost of a GET, counted apart),
interleaved with the hits so that both meet the same load, give the floor. Printed per tree and page: the keys a
hit reads (the entry and the generations its header lists), server microseconds per hit (every command the hits
sent, counted by `INFO commandstats`: a script, or a GET and an MGET) and per GET, their ratio
(target: at most 3, and not growing with the page), and the client's p50 per request.

Run: `python -m bench hitcost`.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from bench.support import (
    ROOT,
    GraphQLClient,
    Stack,
    arguments,
    machine_line,
    percentile,
    print_table,
    source_tree,
    verdict,
    write_results,
)

ENGINE_REF = "6a0a12e"
PAGES = (10, 50, 100)
QUERY = "query Board($n: Int) { errands(first: $n) { id title createdBy { username } } }"
TARGET_RATIO = 3.0


def server_usec(client, commands: set[str] | None = None) -> tuple[int, float]:
    """Calls and microseconds Redis spent since the last CONFIG RESETSTAT, in `commands` (all but the stats flush's
    HINCRBY and our own INFO/CONFIG when None)."""
    calls = usec = 0
    for name, stats in client.info("commandstats").items():
        command = name.removeprefix("cmdstat_")
        if (commands is None and command not in {"hincrby", "info", "config", "multi", "exec", "getrange"}) or (
            commands is not None and command in commands
        ):
            calls += int(stats["calls"])
            usec += float(stats["usec"])
    return calls, usec


def entry_of_the_page(client) -> bytes:
    """The whole-response entry the page's request stored (the only one under the public operation family)."""
    names = [name for name in client.scan_iter(match="*:gql:public:*") if b":_" not in name]
    if len(names) != 1:
        raise RuntimeError(f"expected one stored operation entry, found {names}")
    return names[0]


def measure_page(server_url: str, client, page: int, hits: int) -> dict:
    graphql = GraphQLClient(server_url)
    client.flushall()  # a fresh start for every page: one entry, its own generations
    first = graphql.post(QUERY, {"n": page})
    if first.errors or len(first.data["errands"]) != page:
        raise RuntimeError(f"the board did not answer {page} errands: {first.errors}")
    name = entry_of_the_page(client)
    raw = client.get(name)
    header = raw.split(b"\n", 1)[0]
    keys_read = 1 + (header.count(b"\t") + 1) // 2  # the entry, and one generation per name<TAB>token pair
    client.config_resetstat()
    wall = []
    for _ in range(hits):
        started = time.perf_counter()
        reply = graphql.post(QUERY, {"n": page})
        wall.append((time.perf_counter() - started) * 1000)
        if reply.data != first.data:
            raise RuntimeError("a hit answered something else than the fill")
        # The floor, interleaved with the hits so that both meet the same load: the same bytes by GETRANGE 0 -1,
        # which costs what a GET does and is counted apart.
        client.getrange(name, 0, -1)
    calls, usec = server_usec(client)  # every command the hits sent: a script, or plain GET/MGET
    breakdown = {
        name.removeprefix("cmdstat_"): round(stats["usec"] / hits, 2)
        for name, stats in client.info("commandstats").items()
        if stats["usec"] / hits >= 0.5
    }
    gets, get_usec = server_usec(client, {"getrange"})
    per_hit = usec / hits
    per_get = get_usec / gets if gets else float("nan")
    return {
        "page": page,
        "entry_bytes": len(raw),
        "keys_read": keys_read,
        "commands_per_hit": round(calls / hits, 2),
        "usec_by_command": breakdown,
        "usec_per_hit": round(per_hit, 2),
        "usec_per_get": round(per_get, 2),
        "ratio": round(per_hit / per_get, 2),
        "p50_ms": round(percentile(wall, 50), 2),
    }


def measure_tree(root: Path, errands: int, hits: int, *, announce: bool) -> list[dict]:
    with Stack.open(errands=errands, root=root) as stack:
        client = stack.redis.client()
        if announce:
            print(machine_line(stack.db_url, client))
        server = stack.server()
        return [measure_page(server.url, client, page, hits) for page in PAGES]


def main() -> None:
    options = arguments(__doc__.splitlines()[0], engine_ref=ENGINE_REF, errands=150, hits=500).parse_args()
    results: dict[str, list[dict]] = {}
    with contextlib.ExitStack() as exits:
        trees = [("this tree", ROOT)]
        if options.engine_ref:
            trees.insert(
                0, (f"first design ({options.engine_ref})", exits.enter_context(source_tree(options.engine_ref)))
            )
        for n, (name, root) in enumerate(trees):
            results[name] = measure_tree(root, options.errands, options.hits, announce=n == 0)
    rows = [
        [
            name,
            r["page"],
            r["entry_bytes"],
            r["keys_read"],
            r["usec_per_hit"],
            r["usec_per_get"],
            r["ratio"],
            r["p50_ms"],
        ]
        for name, measured in results.items()
        for r in measured
    ]
    print_table(["tree", "page", "entry bytes", "keys per hit", "µs/hit", "µs/GET", "hit/GET", "p50 ms"], rows)
    for name, measured in results.items():
        for r in measured:
            print(f"  {name}, page {r['page']}: µs per hit by command {r['usec_by_command']}")
    head = results["this tree"]
    ratio_met = all(r["ratio"] <= TARGET_RATIO for r in head)
    flat = len({r["keys_read"] for r in head}) == 1
    print()
    print_table(
        ["target", "verdict"],
        [
            [f"Redis time per hit <= {TARGET_RATIO:g}x a GET of the same bytes, every page", verdict(ratio_met)],
            ["keys a hit reads do not grow with the page", verdict(flat)],
        ],
    )
    write_results(options.json, {"results": results, "ratio_met": ratio_met, "flat": flat})
    if not (ratio_met and flat):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
