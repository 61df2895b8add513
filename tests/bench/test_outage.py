"""Redis outage, CI size: a 2 s stop of the bench's own redis-server under load."""

import pytest

from tests.bench.conftest import run_script


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict:
    """One run for the tests below: a 2 s outage between 2 s and 4 s of load."""
    out = tmp_path_factory.mktemp("outage") / "results.json"
    return run_script("bench_outage", "--before", "2", "--outage", "2", "--after", "4", "--errands", "60", results=out)


def test_a_short_redis_outage_under_load_costs_no_5xx(results):
    # then
    before, outage, after = (results["windows"][name] for name in ("before", "outage", "after"))
    assert sum(w["server_errors"] + w["no_answer"] for w in (before, outage, after)) == 0
    # The hard case happened: writes whose invalidations were lost, and a Redis that came back with old entries.
    assert outage["writes"] > 0
    assert results["restored_keys"] > 0
    assert outage["hits"] == 0
    assert outage["stale"] == 0


def test_after_a_short_redis_outage_nothing_stale_is_served_and_hits_resume(results):
    # then: no invalidation is lost after the restart, and no mark left by the outage blocks fills (fixed in 1316a44)
    after = results["windows"]["after"]
    assert after["stale"] == 0, after["stale_examples"]
    assert after["hits"] > 0
