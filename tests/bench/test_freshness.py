"""Freshness torture, CI size: ~1,000 operations through every write path; no stale read, no cross-user leak."""

import requests

from bench.bench_freshness import admin_saved


def test_a_torture_of_a_thousand_operations_reads_nothing_stale_and_leaks_nothing(run_bench):
    # when
    phases = run_bench("bench_freshness", "--operations", "1000", "--seconds", "120", "--errands", "60")

    # then
    def total(key: str) -> int:
        return sum(phase[key] for phase in phases.values())

    assert total("operations") >= 1000
    assert total("stale") == 0, [phase["stale_examples"] for phase in phases.values()]
    assert total("leaks") == 0, [phase["leak_examples"] for phase in phases.values()]
    assert total("server_errors") == 0
    for path in ("mutation", "save", "update", "admin"):
        assert sum(phase["writes"].get(path, 0) for phase in phases.values()) > 0, path
    # The checker sees staleness where there is some: raw SQL invalidates nothing.
    assert total("control_stale") > 0


def test_an_admin_post_counts_as_a_write_only_when_it_redirects_elsewhere_than_the_login_page():
    # given
    def answer(status: int, location: str = "") -> requests.Response:
        response = requests.Response()
        response.status_code = status
        if location:
            response.headers["Location"] = location
        return response

    # then: a lost or foreign session (another host's secret) redirects to the login page: no write happened
    assert admin_saved(answer(302, "/admin/errands/errand/"))
    assert not admin_saved(answer(302, "/admin/login/?next=/admin/errands/errand/7/change/"))
    assert not admin_saved(answer(200))  # the form again, with its errors
