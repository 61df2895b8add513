"""Redis Cluster: configured from the environment, every key of ours in the slot of its partition's tag and the
partitions spread over every master, fail-open on the cluster's own errors and on a cluster that is down at start,
server commands sent to every master.

The cluster (3 masters, 3 replicas) is started by the test run on free loopback ports (tests/fixtures/cache.py).
"""

import json
import sys
import time

import pytest
from django.core.cache import caches
from redis.cluster import ClusterPipeline, RedisCluster
from redis.exceptions import CrossSlotTransactionError, RedisClusterException

from bench.support import LocalCluster
from core.cache import partitions, stats
from core.cache.conf import CLUSTER_PARTITIONS_DEFAULT, key_prefix
from core.cache.keys import epoch_key, get_cache_key, make_key
from core.cache.store import DOWN, get_store, reset_store
from core.factories import ErrandFactory
from tests.fixtures.api import get_graphql_content
from tests.fixtures.cache import cluster_caches
from tests.fixtures.processes import A_SECRET_KEY, clean_env, manage, run

BOARD_QUERY = "{ errands(first: 5) { id title createdBy { id username } } }"
UPDATE_ERRAND_MUTATION = (
    "mutation($id: ID!, $title: String!) { updateErrand(id: $id, input: {title: $title}) { errors { code } } }"
)
CACHES_OF = (
    "import json; from django.conf import settings; o = settings.CACHES['default'];"
    "print(json.dumps([o['LOCATION'], o['OPTIONS'].get('CONNECTION_FACTORY'), o['OPTIONS'].get('CLUSTER_NODES')]))"
)


def caches_in(env: dict[str, str]) -> list:
    done = run([sys.executable, "-c", CACHES_OF], {**env, "DJANGO_SETTINGS_MODULE": "runam.settings"})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def keys_by_slot(cluster: LocalCluster) -> dict[int, set[str]]:
    """Every key on every master, by slot."""
    found: dict[int, set[str]] = {}
    for node in cluster.masters():
        client = node.client()
        for name in client.scan_iter(count=1000):
            found.setdefault(client.cluster("keyslot", name), set()).add(name.decode())
    return found


# --- configuration ----------------------------------------------------------------------------------------------


def test_redis_cluster_with_one_node_in_redis_url_plugs_redis_py_s_cluster_client_into_django_redis():
    # when
    location, factory, nodes = caches_in(clean_env(REDIS_CLUSTER="true", REDIS_URL="redis://10.0.0.7:7000/0"))

    # then
    assert (location, factory, nodes) == ("redis://10.0.0.7:7000/0", "core.cache.cluster.ClusterConnectionFactory", [])


def test_redis_cluster_nodes_alone_configure_the_cluster():
    # when
    seen = caches_in(clean_env(REDIS_CLUSTER_NODES="10.0.0.7:7000,10.0.0.8:7000"))

    # then: one LOCATION (django-redis reads a comma-separated one as a master and its read replicas)
    assert seen == [
        "redis://10.0.0.7:7000",
        "core.cache.cluster.ClusterConnectionFactory",
        ["10.0.0.7:7000", "10.0.0.8:7000"],
    ]


def test_production_on_cluster_nodes_is_a_shared_cache_for_the_deploy_check():
    # given
    env = clean_env(
        DJANGO_ENV="production",
        DJANGO_SECRET_KEY=A_SECRET_KEY,
        DJANGO_ALLOW_SQLITE_IN_PRODUCTION="true",
        REDIS_CLUSTER_NODES="10.0.0.7:7000",
    )

    # when (the check only reads settings: nothing connects)
    done = manage("check", "--deploy", env=env)

    # then
    assert "runam.E002" not in done.stderr


@pytest.mark.parametrize(
    "variables",
    [
        {"REDIS_CLUSTER": "true"},
        {"REDIS_CLUSTER_NODES": "10.0.0.7:7000", "CACHE_KEY_PREFIX": "{runam}"},
        {"REDIS_CLUSTER_NODES": "10.0.0.7:7000", "CACHE_KEY_PREFIX": "a}b"},
    ],
)
def test_a_cluster_without_a_node_or_with_braces_in_the_prefix_is_refused_at_start(variables):
    # when
    done = manage("check", env=clean_env(**variables))

    # then
    assert done.returncode == 1
    assert "REDIS_CLUSTER" in done.stderr or "CACHE_KEY_PREFIX" in done.stderr


# --- partitions -------------------------------------------------------------------------------------------------


def test_on_a_cluster_each_partition_is_a_hash_tag_and_values_cannot_add_another(settings, cluster):
    # given
    settings.CACHES = cluster_caches(cluster)
    reset_store()

    # when
    keys = [
        make_key("errand:{{id}}", {"id": "{x}"}),
        make_key("a{b}:{{v}}", {"v": "}{"}),
        get_cache_key("{user}", "}"),
        make_key("long:{{v}}", {"v": "{" * 300}),
    ]
    stored = [get_store().stored_name(key, entry=key) for key in keys]

    # then: callers see the prefix; as stored, the only braces are the partition's tag, so a key hashes by it alone
    heads = partitions.current()
    assert len(heads) == CLUSTER_PARTITIONS_DEFAULT
    assert all(key.startswith(f"{key_prefix()}:") and "{" not in key and "}" not in key for key in keys)
    for name in stored:
        head = name[: name.index("}") + 1]
        assert head in heads
        assert "{" not in name[1:] and "}" not in name[len(head) :], name


def test_partition_tags_spread_evenly_over_the_slot_space(settings, cluster):
    # given
    settings.CACHES = cluster_caches(cluster)
    client = cluster.nodes[0].client()

    # when
    slots = [client.cluster("keyslot", head) for head in partitions.current()]

    # then: partition i's slot is in the i-th twelfth, so the three masters of the even layout get four each
    width = 16384 / CLUSTER_PARTITIONS_DEFAULT
    assert [int(slot // width) for slot in slots] == list(range(CLUSTER_PARTITIONS_DEFAULT))
    assert sorted(len([h for h in partitions.current() if cluster.master_of(h) is m]) for m in cluster.masters()) == [
        4,
        4,
        4,
    ]


@pytest.mark.django_db(transaction=True)
def test_every_key_the_cache_writes_sits_in_the_slot_of_its_partition_s_tag(cluster, settings, api_client_for):
    # given
    settings.CACHES = cluster_caches(cluster)
    reset_store()
    errand = ErrandFactory(title="before")
    owner = api_client_for(errand.created_by)

    # when: fills, hits, a mutation (write clocks, generations, marks), a lock, stats
    for _ in range(2):
        get_graphql_content(owner.post_graphql(BOARD_QUERY))
    get_graphql_content(owner.post_graphql(UPDATE_ERRAND_MUTATION, {"id": str(errand.pk), "title": "after"}))
    board = get_graphql_content(owner.post_graphql(BOARD_QUERY))
    get_store().acquire("some:key", 10_000)
    stats.flush()

    # then: every key of ours is under a partition's tag, in that tag's slot; every partition has its epoch and
    # run id (the run_id check covers them all), and so every master holds keys of ours
    heads = partitions.current()
    client = cluster.nodes[0].client()
    tag_slots = {client.cluster("keyslot", head): head for head in heads}
    ours = {slot: names for slot, names in keys_by_slot(cluster).items() if any(n.startswith("{runam") for n in names)}
    assert set(ours) == set(tag_slots)
    for slot, names in ours.items():
        assert all(name.startswith(tag_slots[slot] + ":") for name in names), names
        assert {tag_slots[slot] + ":_epoch", tag_slots[slot] + ":_runid"} <= names
    everything = set().union(*ours.values())
    assert any(":_g:" in name for name in everything) and any(":_c:" in name for name in everything)
    assert any(":_lock:" in name for name in everything)
    assert board["data"]["errands"][0]["title"] == "after"


@pytest.mark.django_db(transaction=True)
def test_every_script_call_is_single_slot(cluster, settings, api_client_for, monkeypatch):
    # given: every EVALSHA the client sends, alone or in a pipeline, recorded with its keys
    settings.CACHES = cluster_caches(cluster)
    reset_store()
    calls = []
    for cls in (RedisCluster, ClusterPipeline):
        original = cls.execute_command

        def recorded(self, *args, _original=original, **kwargs):
            if str(args[0]).upper() in ("EVAL", "EVALSHA"):
                calls.append(args[3 : 3 + int(args[2])])
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "execute_command", recorded)
    errand = ErrandFactory(title="before")
    owner = api_client_for(errand.created_by)

    # when: fills, hits, a mutation (begin and settle in every partition), a manual invalidation, a clear
    for _ in range(2):
        get_graphql_content(owner.post_graphql(BOARD_QUERY))
    get_graphql_content(owner.post_graphql(UPDATE_ERRAND_MUTATION, {"id": str(errand.pk), "title": "after"}))
    get_graphql_content(owner.post_graphql(BOARD_QUERY))
    get_store().bump(families=["errand_list"])
    get_store().delete_pattern("errand*")

    # then
    client = cluster.nodes[0].client()
    writes = [keys for keys in calls if any(":_c:" in str(key) for key in keys)]
    assert len(calls) > 2 * CLUSTER_PARTITIONS_DEFAULT and len(writes) >= 2 * CLUSTER_PARTITIONS_DEFAULT
    for keys in calls:
        assert len({client.cluster("keyslot", key) for key in keys}) == 1, keys


# --- caching works --------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_graphql_read_is_answered_from_the_cluster_the_second_time(cluster, settings, api_client, resolver_calls):
    # given
    settings.CACHES = cluster_caches(cluster)
    reset_store()
    ErrandFactory.create_batch(3)

    # when
    first = get_graphql_content(api_client.post_graphql(BOARD_QUERY))
    calls = resolver_calls["Query.errands"]
    second = get_graphql_content(api_client.post_graphql(BOARD_QUERY))

    # then
    assert first["data"] == second["data"]
    assert second["extensions"]["cache"]["operation"] == "HIT"
    assert (calls, resolver_calls["Query.errands"]) == (1, 1)
    assert get_store().healthy


def test_run_id_info_and_slowlog_come_from_every_master(cluster, settings):
    # given
    settings.CACHES = cluster_caches(cluster)
    reset_store()

    # when
    get_store().lookup("some:key")
    info, slowlog = get_store().info(), get_store().slowlog()

    # then: each partition records the run_id of its own master (not the client's default node, which may be any)
    for head in partitions.current():
        home = cluster.master_of(head)
        assert home.client().get(f"{head}:_runid").decode() == home.client().info("server")["run_id"]
    memory = sum(int(node.client().info("memory")["used_memory"]) for node in cluster.masters())
    assert info["error"] is None and memory * 0.5 < info["memory"] < memory * 1.5
    assert slowlog is not None and slowlog["error"] is None
    assert get_store().healthy


# --- failing open ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("error", [CrossSlotTransactionError("cross slot"), RedisClusterException("no node")])
def test_the_cluster_client_s_own_exceptions_fail_open(cluster, settings, monkeypatch, error):
    # given
    settings.CACHES = cluster_caches(cluster)
    reset_store()
    store = get_store()
    store.lookup("some:key")

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(store.client, "evalsha", fail)
    monkeypatch.setattr(ClusterPipeline, "execute", fail)  # a write goes to every partition in a pipeline

    # when
    found = store.lookup("some:key")
    store.bump(families=["some"])

    # then: a miss, the invalidation owed, no exception
    assert found == DOWN
    assert not store.healthy
    assert store.take_faults() == {"read_error": 1, "write_error": 1}
    monkeypatch.undo()
    assert store.recover()


def test_a_cluster_that_is_down_at_start_costs_misses_then_recovers_with_an_epoch_bump(settings, tmp_path):
    # given: settings naming a cluster whose nodes are not running yet
    later = LocalCluster(tmp_path, node_timeout_ms=1000)
    settings.CACHES = cluster_caches(later)
    reset_store()

    try:
        # when
        store = get_store()
        found = store.lookup("some:key")
        store.bump(families=["some"])  # lost: owed as an epoch bump

        # then
        assert found == DOWN and not store.healthy

        # when the cluster comes up
        later.start()
        assert store.recover()

        # then
        assert store.lookup("some:key").ticket is not None
        epoch = store.stored_name(epoch_key())
        assert later.master_of(epoch).client().get(epoch) is not None
        assert store.healthy
    finally:
        later.stop()


def test_a_killed_master_s_replica_takes_over_and_the_epoch_moves_once_the_owed_bump_gets_through(settings, tmp_path):
    # given: an entry on a cluster of our own (the session's is not maimed)
    with LocalCluster(tmp_path, node_timeout_ms=1000) as own:
        settings.CACHES = cluster_caches(own)
        settings.CACHE_OUTAGE_RETRY_INTERVAL = 0.05
        reset_store()
        store = get_store()
        found = store.lookup("some:key")
        assert store.store(found.ticket, "before the failover", 60)
        home = store.stored_name(epoch_key(), entry="some:key")
        epoch = caches["default"].get(home)

        # when: the master holding the entry's partition dies, a write's invalidation fails (owed), and the replica
        # is promoted
        own.kill(own.master_of(home))
        store.bump(families=["some"])
        assert not store.healthy
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not store.lookup("some:key").ticket:
            time.sleep(0.1)

        # then: the owed bump got through (the only call this store makes while it owes one), the promoted replica
        # has another run_id, so the epoch moved; the old entry is not served
        after = store.lookup("some:key")
        assert after.ticket is not None and not after.hit
        assert caches["default"].get(home) != epoch
