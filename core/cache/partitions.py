"""Partitions: where each key of the cache lives on Redis (docs/caching.md, "Design: partitions").

Callers name keys under one prefix (`runam:errand:5`). With P partitions, partition i keeps its keys under a head of
its own, `{runam.<n>}`, a hash tag: everything under one head hashes to one slot, so a script over one partition's
keys is single-slot, and a partition is always whole on one master. n is the smallest number whose slot falls in the
i-th P-th of the slot space: with the even slot layout a cluster starts with, each master serves P / masters
partitions. One partition on a single Redis keeps the prefix itself as its head (the keys of a deployment without
partitions, unchanged); on a cluster it is `{runam}`.
"""

from __future__ import annotations

import functools

from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from core.cache import conf

MAX_PARTITIONS = 1024  # each head is found by a search over about SLOTS / P slots: bounded work at start-up


@functools.lru_cache(maxsize=16)
def heads(prefix: str, count: int, cluster: bool) -> tuple[str, ...]:
    """The head of each partition, in order."""
    if count == 1:
        return (f"{{{prefix}}}" if cluster else prefix,)
    if not 1 < count <= MAX_PARTITIONS:
        raise ValueError(f"CACHE_PARTITIONS must be between 1 and {MAX_PARTITIONS}, not {count}")
    found = []
    for index in range(count):
        low, high = index * REDIS_CLUSTER_HASH_SLOTS // count, (index + 1) * REDIS_CLUSTER_HASH_SLOTS // count
        n = 0
        while not low <= key_slot(f"{prefix}.{n}".encode()) < high:
            n += 1
        found.append(f"{{{prefix}.{n}}}" if cluster else f"{prefix}.{n}")
    return tuple(found)


def place(name: str, head: str) -> str:
    """Where `name` (a key as callers name it, under the prefix) lives in the partition with this head."""
    return head + name[len(conf.key_prefix()) :]


def current() -> tuple[str, ...]:
    """The heads for the settings in force."""
    return heads(conf.key_prefix(), conf.partitions(), conf.on_cluster())
