"""Profile one path of bench_throughput in this process: `python -m bench.profile hot|cold|off|limit [--requests N]`.

Not run by `make bench` (its name does not start with bench_). The requests go through Django's test client, not
gunicorn, so the profile shows the application's own work; pyinstrument prints where the time goes. For counts that
a busy machine does not move, run the same under `valgrind --tool=callgrind` and compare two request counts.
"""

from __future__ import annotations

import json

from bench.bench_throughput import QUERY
from bench.server import LIMIT_KEY
from bench.support import Stack, arguments, setup_django

MODES = ("hot", "cold", "off", "limit")


def main(argv: list[str] | None = None) -> None:
    parser = arguments(__doc__.splitlines()[0], requests=500, warmup=20, errands=500)
    parser.add_argument("mode", choices=MODES)
    args = parser.parse_args(argv)
    with Stack.open(errands=args.errands) as stack:
        setup_django(stack.env(CACHE_ENABLED=args.mode != "off", DJANGO_ALLOWED_HOSTS="testserver"))
        from django.test import Client
        from pyinstrument import Profiler

        client = Client()
        first = client.post("/graphql/", json.dumps({"query": QUERY}), content_type="application/json")
        stack.redis.client().set(LIMIT_KEY, first.content)
        url = "/bench/limit/" if args.mode == "limit" else "/graphql/"

        def request(n: int) -> None:
            # cold: a new fragment name per request, so a new key at both cache levels (as in bench_throughput)
            query = QUERY.replace("Row", f"P{n}") if args.mode in ("cold", "off") else QUERY
            response = client.post(url, json.dumps({"query": query}), content_type="application/json")
            assert response.status_code == 200, response.content[:300]

        for n in range(args.warmup):
            request(-n - 1)
        profiler = Profiler(interval=0.0005)
        with profiler:
            for n in range(args.requests):
                request(n)
    print(profiler.output_text(unicode=True, color=False))


if __name__ == "__main__":
    main()
