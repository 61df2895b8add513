"""Fuzz, CI size: 200 schemathesis cases and hostile strings in every String/ID argument; no 5xx, no collision."""


def test_generated_and_hostile_operations_cause_no_5xx_and_no_cache_key_collision(run_bench):
    # when
    results = run_bench("bench_fuzz", "--cases", "200", "--strings", "6", "--errands", "40")

    # then
    assert results["generated"]["operations"] >= 200
    assert results["generated"]["failures"] == []
    assert results["hostile"]["failures"] == []
    assert results["collisions"]["first_hits"] == []
    assert results["collisions"]["wrong"] == []
    assert results["collisions"]["second_hits"] > 0  # entries were cached, so the first-miss check meant something
    assert results["longest_key"] <= 250
