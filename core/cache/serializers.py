"""Placeholder (cache library work replaces this)."""


class TextSerializer:
    def __init__(self, options=None):
        pass

    def dumps(self, value):
        return value.encode() if isinstance(value, str) else value

    def loads(self, value):
        return value.decode() if isinstance(value, bytes) else value
