"""Several hosts on a Redis Cluster, CI size: three gunicorn hosts, a few hundred operations of the freshness torture
spread over them, the master of the cache's first partition killed half-way; nothing stale, and every master
serving a share of the commands. The negative control (local
memory per host) must read stale data, or the run proves nothing."""


def test_three_hosts_on_a_cluster_read_nothing_stale_across_a_master_s_failover(run_bench):
    # when
    results = run_bench("bench_cluster", "--operations", "400", "--seconds", "150", "--errands", "60")

    # then
    assert results["operations"] >= 400
    assert results["stale"] == 0, [w["stale_examples"] for w in results["windows"].values()]
    assert results["leaks"] == 0, results["leak_examples"]
    assert results["server_errors"] == results["no_answer"] == 0
    assert results["failover"]["promoted_port"] not in (None, results["failover"]["killed_port"])
    assert results["hit_rate"] > 0
    for path in ("mutation", "save", "update", "admin"):
        assert results["writes"].get(path, 0) > 0, path
    assert results["control_stale"] > 0
    # every master serves a share (the full run's target, ±25 % of the mean, needs more than a few hundred operations)
    calls = [calls for _, _, calls in results["shards"]]
    assert len(calls) == 3 and min(calls) > sum(calls) / len(calls) / 2, results["shards"]


def test_the_negative_control_local_memory_per_host_reads_stale_data(run_bench):
    # when
    results = run_bench(
        "bench_cluster", "--negative-control", "--operations", "300", "--seconds", "120", "--errands", "60"
    )

    # then
    assert results["stale"] > 0
    assert results["control_stale"] > 0
