"""Cross-process invalidation for local memory: an append-only journal of bumps, shared by the machine's processes.

LocMem is per process, but writes also come from other processes (a management command, `manage.py shell`, a
second runserver). Every LocMem store appends what it bumps (tokens, pending-write marks) to one file and, before
each operation, applies what others appended since it last looked: one stat() when nothing changed.
A new process starts at the end (its cache is empty: the past cannot be stale in it). A file that was replaced
(rotation) or shrank means lines may have been missed: the caller then treats everything as invalid.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings

ROTATE_AT_DEFAULT = 8 * 1024 * 1024  # bytes


def rotate_at() -> int:
    """Bytes after which the journal starts a new file (`CACHE_LOCMEM_JOURNAL_MAX_BYTES`): the file, and what a
    process reads of it, stays within this plus one record; the previous file is kept as `.old` until the next."""
    return int(getattr(settings, "CACHE_LOCMEM_JOURNAL_MAX_BYTES", ROTATE_AT_DEFAULT))


def default_path() -> str:
    """One journal per project, database and key prefix; `CACHE_LOCMEM_JOURNAL` overrides ("" turns it off)."""
    configured = getattr(settings, "CACHE_LOCMEM_JOURNAL", None)
    if configured is not None:
        return configured
    database = settings.DATABASES["default"]
    identity = f"{settings.BASE_DIR}|{database.get('HOST', '')}|{database['NAME']}|{settings.CACHE_KEY_PREFIX}"
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return str(Path(tempfile.gettempdir()) / f"runam-cache-{digest}.journal")


class Journal:
    def __init__(self, path: str) -> None:
        self.path = path
        # Created now if missing: knowing the file we started on is what tells a later rotation from a first file.
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))
        status = os.stat(path)
        self._inode, self._offset = status.st_ino, status.st_size

    def append(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        fd = self._open_locked()
        try:
            if os.fstat(fd).st_size + len(line) > rotate_at():
                # Readers see a new inode and start over from a clean slate (everything invalid).
                os.replace(self.path, self.path + ".old")
                os.close(fd)
                fd = self._open_locked()
            os.write(fd, line)
        finally:
            os.close(fd)  # closing releases the lock

    def _open_locked(self) -> int:
        while True:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                if os.fstat(fd).st_ino == os.stat(self.path).st_ino:
                    return fd  # not rotated away while we waited for the lock
            except FileNotFoundError:
                pass
            os.close(fd)

    def read_new(self) -> tuple[bool, list[dict[str, Any]]]:
        """(reset, records appended since the last call). Call under the store's lock."""
        try:
            status = os.stat(self.path)
        except FileNotFoundError:
            return False, []
        if status.st_ino == self._inode and status.st_size == self._offset:
            return False, []
        reset = status.st_ino != self._inode or status.st_size < self._offset
        if reset:
            self._offset = 0
        self._inode = status.st_ino
        with open(self.path, "rb") as journal:
            journal.seek(self._offset)
            data = journal.read()
        complete = data.rfind(b"\n") + 1  # a line still being written is read next time
        self._offset += complete
        return reset, [json.loads(line) for line in data[:complete].splitlines() if line]
