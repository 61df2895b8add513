"""Placeholder (cache library work replaces this)."""


def backend_key(key: str, key_prefix: str, version: int) -> str:
    return key
