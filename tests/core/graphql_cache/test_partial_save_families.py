"""save(update_fields=[...]) of an instance whose other columns are out of date: the families a template fills
from those columns are bumped at their root, so the real runner's list refreshes."""

import pytest

from core.factories import ErrandFactory, UserFactory
from errands.models import Errand, ErrandStatus
from errands.services import errand_accept
from tests.core.graphql_cache.oracle import post, uncached

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("cache_backend")]

IN_PROGRESS_QUERY = "query Mine { myErrands(status: IN_PROGRESS) { id status } }"


def test_partial_save_of_a_stale_instance_refreshes_the_real_runners_list(api_client_for):
    # given: an open errand, loaded by some code path before a runner accepted it
    owner, runner = UserFactory(), UserFactory()
    errand = ErrandFactory(created_by=owner)
    loaded_earlier = Errand.objects.get(pk=errand.pk)  # runner_id None in memory
    errand_accept(errand_id=errand.pk, runner=runner)  # committed: runner set, ASSIGNED
    runner_client = api_client_for(runner)
    assert post(runner_client, IN_PROGRESS_QUERY)["data"]["myErrands"] == []  # cached: nothing in progress yet
    # when: the earlier instance moves the status on, writing only that column
    loaded_earlier.status = ErrandStatus.IN_PROGRESS
    loaded_earlier.save(update_fields=["status", "updated_at"])
    # then: in the database the errand is the runner's and in progress
    assert Errand.objects.filter(pk=errand.pk, runner=runner, status="IN_PROGRESS").exists()
    expected = uncached(runner_client, IN_PROGRESS_QUERY)
    assert expected["data"]["myErrands"] == [{"id": str(errand.pk), "status": "IN_PROGRESS"}]
    assert post(runner_client, IN_PROGRESS_QUERY) == expected
