"""django-redis on Redis Cluster: a CONNECTION_FACTORY that hands out redis-py's own RedisCluster client.

django-redis 7 has no cluster client (its issue #208: declined), and Django's RedisCache only builds `redis.Redis`.
The factory is django-redis's extension point for exactly this, so the cache keeps django-redis's API (get, set,
incr, the raw client for scripts) and redis-py does the routing: slots, MOVED/ASK, failover re-discovery.

Every key the cache writes carries one hash tag (conf.key_prefix), so every script and pipeline stays in one slot.
"""

from __future__ import annotations

import os
import threading
from typing import Any
from urllib.parse import urlsplit

from django_redis.pool import ConnectionFactory
from redis.cluster import ClusterNode, RedisCluster

from core.cache.identity import check_server


def parse_nodes(nodes: list[str] | tuple[str, ...]) -> list[tuple[str, int]]:
    """`["10.0.0.1:7000", "[::1]:7001"]` → `[("10.0.0.1", 7000), ("::1", 7001)]`."""
    parsed = []
    for node in nodes:
        host, _, port = node.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"a cluster node is host:port, not {node!r}")
        parsed.append((host.strip("[]"), int(port)))
    return parsed


class ClusterConnectionFactory(ConnectionFactory):
    """OPTIONS: CLUSTER_NODES (host:port strings; default: LOCATION's host and port) are where discovery starts;
    SOCKET_TIMEOUT, SOCKET_CONNECT_TIMEOUT, PASSWORD/USERNAME and CONNECTION_POOL_KWARGS (`max_connections` per node,
    `retry`) mean what they mean for one Redis."""

    # One client per process and LOCATION, shared by every thread (RedisCluster is thread-safe; Django builds a
    # cache object, and so a factory, per thread). A client per thread would open a pool per node per thread.
    _clusters: dict[tuple[int, str, str, str], RedisCluster] = {}
    _lock = threading.Lock()

    def connect(self, url: str) -> RedisCluster:
        # Keyed by what the client is built from (a Retry object compares by identity: not in the key).
        pool = {name: value for name, value in self.pool_cls_kwargs.items() if name != "retry"}
        options = [self.options.get(name) for name in ("CLUSTER_NODES", "SOCKET_TIMEOUT", "SOCKET_CONNECT_TIMEOUT")]
        key = (os.getpid(), url, repr(options), repr(sorted(pool.items())))
        with self._lock:
            client = self._clusters.get(key)
            if client is None:
                # The constructor connects at once and raises when no node answers: the caller (the store) fails
                # open, and the next call tries again, since nothing was kept.
                client = self._clusters[key] = self._build(url)
            return client

    def _build(self, url: str) -> RedisCluster:
        params = self.make_connection_params(url)
        location = urlsplit(url)
        nodes = self.options.get("CLUSTER_NODES") or [f"{location.hostname}:{location.port or 6379}"]
        pool = dict(self.pool_cls_kwargs)
        kwargs: dict[str, Any] = {
            "startup_nodes": [ClusterNode(host, port) for host, port in parse_nodes(nodes)],
            "socket_timeout": params.get("socket_timeout"),
            "socket_connect_timeout": params.get("socket_connect_timeout"),
            "username": params.get("username") or location.username,
            "password": params.get("password") or location.password,
            "ssl": location.scheme == "rediss",
        }
        # RedisCluster sets up each node's connections itself and then calls this hook: the identity check alone.
        pool.pop("redis_connect_func", None)
        kwargs["redis_connect_func"] = check_server
        if "retry" in pool:
            # Retries of a command after a connection error or CLUSTERDOWN (each re-reads the slot map first).
            kwargs["retry"] = pool.pop("retry")
        return RedisCluster(**kwargs, **pool)

    def disconnect(self, connection: RedisCluster) -> None:
        connection.disconnect_connection_pools()
