"""The fault bench, CI size: each fault of issue #13 for a few seconds under the freshness torture (bench_faults),
the single-Redis faults one after another in one process. Counts only: what a fault may cost in time is the
bench's to print, not a test's to assert. The promotion and the Sentinel failover run with the default
CACHE_REDIS_MIN_REPLICAS=0: the identity check of the first new connection is what keeps them fresh."""

import pytest

from tests.bench.conftest import run_script

FAULTS = ("stall-unseen-1", "stall-write-1", "sigkill", "snapshot", "promotion", "sentinel")


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict:
    """One run for the tests below: 1 s of load before the first fault of a set-up, 2 s after each."""
    out = tmp_path_factory.mktemp("faults") / "results.json"
    return run_script(
        "bench_faults", "--faults", ",".join(FAULTS), "--shared", "--stalls", "1", "--unseen-stalls", "1",
        "--before", "1", "--after", "2", "--lost", "1", "--kills", "2", "--errands", "60", "--threads", "8",
        results=out,
    )  # fmt: skip


@pytest.mark.parametrize("fault", FAULTS)
def test_a_fault_under_load_costs_no_5xx_and_nothing_stale_a_second_after_it(results, fault):
    # then
    assert not results["errors"], results["errors"]
    found = results["faults"][fault]
    assert found["writes_during"] > 0  # the fault happened while writes went on
    assert found["server_errors"] == found["no_answer"] == 0
    assert found["stale_late"] == 0, found["stale_examples"]
    assert found["hits_after"] > 0  # the cache serves again


def test_writers_killed_after_their_commit_leave_nothing_stale_and_no_outbox_row(results):
    # then: Redis saw no fault, so the relay's bound is the only delay, and the pending marks cover it
    found = results["faults"]["sigkill"]
    assert found["notes"]["killed"] == 2
    assert found["stale_during"] == found["stale_after"] == 0, found["stale_examples"]
    assert found["notes"]["outbox_overdue"] == 0


def test_the_snapshot_and_the_promotion_brought_back_what_the_writes_had_invalidated(results):
    # then: the hard cases happened (old entries restored; bytes the promoted replica never got)
    assert results["faults"]["snapshot"]["notes"]["keys_restored"] > 0
    assert results["faults"]["promotion"]["notes"]["bytes_not_replicated"] > 0
