"""GraphQL over HTTP conformance: graphql-http's server audits against gunicorn + Redis, ok/warn/error/notice counts.

npm installs graphql-http and graphql (pinned below) into a temporary folder; nothing is installed in the project.
bench/http_audit.mjs runs every audit of `serverAudits` one after the other against the seeded server and prints
each result. A failed audit is an `error` when its name starts with MUST, a `warn` for SHOULD and a `notice` for
MAY (graphql-http 1.23's own rule). Target: every audit ok (61 ok, 0 warn, 0 error, 0 notice).

The same audits run against `--baseline-ref` (default e71ed33, the head before the GraphQL-over-HTTP work: that
commit's tree from `git archive` in a temporary directory, its own scratch database and redis-server) in the same
run, side by side; `--baseline-ref ''` audits this tree alone.

Run: `python -m bench http-audit`.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.support import (
    BASELINE_REF,
    ROOT,
    Stack,
    arguments,
    machine_line,
    npm_install,
    print_table,
    source_tree,
    verdict,
    write_results,
)

NPM_PACKAGES = ["graphql-http@1.23.1", "graphql@16.12.0"]
HERE = Path(__file__).resolve().parent
TARGET = {"ok": 61, "warn": 0, "error": 0, "notice": 0}


def audit(folder: Path, graphql_url: str) -> tuple[list[dict], dict[str, int]]:
    script = folder / "http_audit.mjs"
    shutil.copy(HERE / "http_audit.mjs", script)
    done = subprocess.run(
        ["node", str(script), graphql_url], cwd=folder, capture_output=True, text=True, timeout=300, check=False
    )
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines or "summary" not in lines[-1]:
        raise RuntimeError(f"http_audit.mjs did not finish:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return lines[:-1], lines[-1]["summary"]


def audit_tree(root: Path, folder: Path, errands: int, *, announce: bool) -> tuple[list[dict], dict[str, int]]:
    with Stack.open(errands=errands, root=root) as stack:
        if announce:
            print(machine_line(stack.db_url, stack.redis.client()))
        server = stack.server()
        return audit(folder, f"{server.url}/graphql/")


def main() -> None:
    options = arguments(__doc__.splitlines()[0], errands=20, baseline_ref=BASELINE_REF).parse_args()
    if shutil.which("node") is None or shutil.which("npm") is None:
        sys.exit("bench http-audit needs node and npm")
    runs: dict[str, tuple[list[dict], dict[str, int]]] = {}
    with tempfile.TemporaryDirectory(prefix="runam-http-audit-") as tmp, contextlib.ExitStack() as exits:
        npm_install(Path(tmp), NPM_PACKAGES)
        runs["head"] = audit_tree(ROOT, Path(tmp), options.errands, announce=True)
        if options.baseline_ref:
            baseline = exits.enter_context(source_tree(options.baseline_ref))
            runs[options.baseline_ref] = audit_tree(baseline, Path(tmp), options.errands, announce=False)
    (results, counts), others = runs["head"], {name: run for name, run in runs.items() if name != "head"}
    version = NPM_PACKAGES[0].rpartition("@")[2]
    print(f"graphql-http {version}, {len(results)} audits; reason: this tree's failure, else the baseline's")
    print()
    rows = []
    for result in results:
        theirs = [{r["id"]: r for r in run[0]}.get(result["id"], {}) for run in others.values()]
        failed = result if result["status"] != "ok" else next((r for r in theirs if r.get("status") != "ok"), None)
        rows.append([
            result["name"][:90], result["id"], result["status"], *(r.get("status", "-") for r in theirs),
            _reason(failed) if failed else "",
        ])  # fmt: skip
    print_table(["audit", "id", "head", *others, "reason"], rows)
    print()
    print_table(
        ["status", "head", *others, "target", "verdict"],
        [[status, counts.get(status, 0), *(run[1].get(status, 0) for run in others.values()), TARGET[status],
          verdict(counts.get(status, 0) == TARGET[status])] for status in TARGET],
    )  # fmt: skip
    write_results(options.json, {name: {"results": run[0], "counts": run[1]} for name, run in runs.items()})
    if counts != TARGET:
        sys.exit(1)


def _reason(result: dict) -> str:
    status = f"HTTP {result['httpStatus']}: " if result.get("httpStatus") else ""
    return (status + result.get("reason", ""))[:80]


if __name__ == "__main__":
    main()
