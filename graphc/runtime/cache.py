"""The on-disk cache of compiled libraries, by name.

Names are content hashes chosen by the caller (backend/libraries.py: the
program's text and a fingerprint of the compiler). Entries are written to a
temporary name and renamed into place; each library's SHA-256 sits beside it
and is checked before loading, so a damaged entry is rebuilt, never loaded.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from pathlib import Path
from typing import Callable

from graphc import environment


def cache_dir() -> Path:
    """$GRAPHC_CACHE_DIR, else ~/.cache/graphc; created private (0700).

    Libraries are loaded from it into the process, so it must be ours and
    writable by nobody else (PermissionError otherwise).
    """
    root = environment.get().cache_dir
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    status = root.stat()
    if status.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise PermissionError(f"graphc will not load libraries from {root}: other users can write to it "
                              "(make it private: chmod 700)")
    if status.st_uid != os.getuid():
        raise PermissionError(f"graphc will not load libraries from {root}: it belongs to user {status.st_uid}, "
                              f"not to this user ({os.getuid()})")
    return root


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cached_file(name: str):
    """The path of a verified cache entry (library) called `name`, or None."""
    path = cache_dir() / name
    checksum = path.with_suffix(".sha256")
    try:
        if checksum.read_text().strip() == _file_digest(path):
            return path
    except OSError:
        pass
    return None


def store_file(name: str, build: Callable[[Path], None]) -> Path:
    """Builds an entry with `build(path)` and moves it, then its checksum, into the cache atomically."""
    root = cache_dir()
    path = root / name
    with tempfile.TemporaryDirectory(dir=root) as work:
        built = Path(work) / "entry"
        build(built)
        checksum = Path(work) / "entry.sha256"
        checksum.write_text(_file_digest(built))
        os.replace(built, path)
        os.replace(checksum, path.with_suffix(".sha256"))
    return path
