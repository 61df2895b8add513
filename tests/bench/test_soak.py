"""The soak bench at a tiny scale: its traffic runs clean and it samples what the soak issue asks for."""


def test_soak_traffic_has_no_5xx_and_samples_every_figure(run_bench):
    # when: 20 seconds of the mixed traffic, sampled every 5 s, then 3 s idle
    results = run_bench(
        "bench_soak", "--minutes", "0.34", "--errands", "20", "--sample-seconds", "5", "--idle-seconds", "3"
    )

    # then
    samples = results["samples"]
    assert len(samples) >= 3
    assert sum(sample["5xx"] for sample in samples) == 0
    assert sum(sample["writes"] for sample in samples) > 0
    assert all(len(sample["rss_mb"]) == 2 and sample["keys"] > 0 for sample in samples)
    assert results["idle"]["families"]
