"""`python -m bench [name ...] [--option value ...]`: run every `bench/bench_*.py` (or those named) in turn, each in
its own process; options after the names go to each script (`python -m bench soak --minutes 5`).

A separate process per script because each one configures Django (and often its own redis-server) for itself;
settings cannot be loaded twice in one process.
"""

import pkgutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Options a script gets when the whole set runs (`make bench`): the soak runs 10 minutes there, 20 on its own.
IN_THE_SET = {"bench_soak": ["--minutes", "10"]}


def discover() -> list[str]:
    here = Path(__file__).parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))


def main(argv: list[str]) -> int:
    split = next((i for i, arg in enumerate(argv) if arg.startswith("-")), len(argv))
    argv, options = argv[:split], argv[split:]
    # `abuse`, `bench_abuse`; `http-audit` for bench_http_audit.py
    wanted = {f"bench_{name.removeprefix('bench_').replace('-', '_')}" for name in argv}
    names = [name for name in discover() if not wanted or name in wanted]
    if not names:
        print(f"no bench script matches {sorted(wanted)}; found {discover()}", file=sys.stderr)
        return 2
    failed = []
    for name in names:
        print(f"\n=== bench.{name} ===", flush=True)
        extra = options if wanted else IN_THE_SET.get(name, [])
        code = subprocess.call([sys.executable, "-m", f"bench.{name}", *extra], cwd=ROOT)
        if code:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
