"""Real clients against gunicorn + Redis: Apollo Client 4 (Node) and the Python `gql` client.

Apollo Client 4 runs bench/clients.mjs: PersistedQueryLink by POST and by GET (useGETForHashedQueries), HttpLink
with useGETForQueries, and a signed-in user through APQ over GET. The `gql` client posts a query with variables and
a mutation. For each scenario: whether the client got correct data, the requests it sent (method, status, whether
the query text went along) and, for APQ, whether the hash-only request was a server-side hit.

npm installs @apollo/client, graphql and rxjs (pinned below) into a temporary folder; nothing is installed in the
project. Run: `python -m bench clients`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.support import (
    Stack,
    arguments,
    cache_counters,
    counter_delta,
    machine_line,
    npm_install,
    print_table,
    write_results,
)

NPM_PACKAGES = ["@apollo/client@4.3.8", "graphql@16.12.0", "rxjs@7.8.2"]
HERE = Path(__file__).resolve().parent


def run_apollo(folder: Path, graphql_url: str) -> list[dict]:
    script = folder / "clients.mjs"
    shutil.copy(HERE / "clients.mjs", script)
    done = subprocess.run(
        ["node", str(script), graphql_url], cwd=folder, capture_output=True, text=True, timeout=120, check=False
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"clients.mjs printed nothing:\n{done.stdout}\n{done.stderr}")
    return [json.loads(line) for line in lines]


def run_gql(graphql_url: str) -> list[dict]:
    from gql import Client, gql
    from gql.transport.requests import RequestsHTTPTransport

    results = []
    transport = RequestsHTTPTransport(url=graphql_url, timeout=30, retries=0)
    with Client(transport=transport, fetch_schema_from_transport=False) as session:
        try:
            board = session.execute(gql("query($n: Int) { errands(first: $n) { id title } }"), variable_values={"n": 4})
            results.append({"name": "gql-query", "ok": len(board["errands"]) == 4, "errands": len(board["errands"])})
        except Exception as error:  # report, do not stop the run
            results.append({"name": "gql-query", "ok": False, "error": str(error)})
        try:
            login = session.execute(
                gql('mutation { tokenAuth(username: "bob", password: "runam-demo-pass") { token errors { code } } }')
            )
            results.append({"name": "gql-mutation", "ok": bool(login["tokenAuth"]["token"])})
        except Exception as error:
            results.append({"name": "gql-mutation", "ok": False, "error": str(error)})
    return results


def expected(result: dict) -> bool:
    """What each scenario must show beyond `ok`: APQ's second request carried no query text and got a 200."""
    if not result.get("ok"):
        return False
    if result["name"].startswith("apq") or result["name"] == "signed-in-apq":
        hashed_only = [w for w in result["wire"] if w["hashed"] and not w["sentQuery"]]
        return bool(hashed_only) and hashed_only[-1]["status"] == 200 and result.get("same", True)
    if result["name"] == "get-for-queries":
        return all(w["method"] == "GET" and w["status"] == 200 for w in result["wire"])
    return True


def main() -> None:
    options = arguments(__doc__.splitlines()[0], errands=50).parse_args()
    if shutil.which("node") is None or shutil.which("npm") is None:
        sys.exit("bench clients needs node and npm")
    with Stack.open(errands=options.errands) as stack, tempfile.TemporaryDirectory(prefix="runam-apollo-") as tmp:
        print(machine_line(stack.db_url, stack.redis.client()))
        npm_install(Path(tmp), NPM_PACKAGES)
        server = stack.server()
        url = f"{server.url}/graphql/"
        before = cache_counters(stack.redis.client())
        results = run_apollo(Path(tmp), url) + run_gql(url)
        delta = counter_delta(before, cache_counters(stack.redis.client()))
    rows = []
    for result in results:
        wire = " ".join(
            f"{w['method']}{'+q' if w['sentQuery'] else ''}{'#' if w['hashed'] else ''}:{w['status']}"
            for w in result.get("wire", [])
        )
        rows.append([result["name"], "yes" if expected(result) else "NO", wire or "-", result.get("error", "")[:60]])
    print_table(["scenario", "correct", "requests (method, +q: text sent, #: hash, status)", "error"], rows)
    print(f"whole-response hits during the run: {delta.get('gql|hit', 0)}, misses: {delta.get('gql|miss', 0)}")
    passed = sum(expected(r) for r in results)
    print(f"{passed} passed, {len(results) - passed} failed")
    write_results(options.json, {"results": results, "counters": delta})
    if passed != len(results):
        sys.exit(1)


if __name__ == "__main__":
    main()
