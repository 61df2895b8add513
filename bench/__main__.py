"""`python -m bench [name ...]`: run every `bench/bench_*.py` (or those named) in turn, each in its own process.

A separate process per script because each one configures Django (and often its own redis-server) for itself;
settings cannot be loaded twice in one process.
"""

import pkgutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def discover() -> list[str]:
    here = Path(__file__).parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))


def main(argv: list[str]) -> int:
    # `abuse`, `bench_abuse`; `http-audit` for bench_http_audit.py
    wanted = {f"bench_{name.removeprefix('bench_').replace('-', '_')}" for name in argv}
    names = [name for name in discover() if not wanted or name in wanted]
    if not names:
        print(f"no bench script matches {sorted(wanted)}; found {discover()}", file=sys.stderr)
        return 2
    failed = []
    for name in names:
        print(f"\n=== bench.{name} ===", flush=True)
        code = subprocess.call([sys.executable, "-c", f"import bench.{name} as m; m.main()"], cwd=ROOT)
        if code:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
