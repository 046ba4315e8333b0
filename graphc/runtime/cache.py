"""The on-disk cache of compiled steps, keyed by content hash.

A key hashes the optimized program's text together with a fingerprint of the
compiler itself (graphc's sources, runtime_c, LLVM version, host CPU), so a
new graphc or another CPU never reuses a stale library. Entries are written to
a temporary name and renamed into place; each library's SHA-256 sits beside it
and is checked before loading, so a damaged entry is rebuilt, never loaded.
"""

from __future__ import annotations

import functools
import hashlib
import os
import stat
import tempfile
from pathlib import Path
from typing import Callable

import graphc
from graphc.backend import target
from graphc.backend.toolchain import runtime_digest


def cache_dir() -> Path:
    """$GRAPHC_CACHE_DIR, else ~/.cache/graphc; created private (0700).

    Libraries are loaded from it into the process, so it must be ours and
    writable by nobody else (PermissionError otherwise).
    """
    root = Path(os.environ.get("GRAPHC_CACHE_DIR") or Path.home() / ".cache" / "graphc")
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    status = root.stat()
    if status.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise PermissionError(f"graphc will not load libraries from {root}: other users can write to it "
                              "(make it private: chmod 700)")
    if status.st_uid != os.getuid():
        raise PermissionError(f"graphc will not load libraries from {root}: it belongs to user {status.st_uid}, "
                              f"not to this user ({os.getuid()})")
    return root


@functools.lru_cache(maxsize=None)
def compiler_fingerprint() -> str:
    """A hash of everything besides the program that decides the generated code."""
    digest = hashlib.sha256()
    package = Path(graphc.__file__).parent
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    digest.update(runtime_digest().encode())
    digest.update(target.description().encode())
    return digest.hexdigest()


def key_for(program_text: str) -> str:
    digest = hashlib.sha256()
    digest.update(compiler_fingerprint().encode())
    digest.update(program_text.encode())
    return digest.hexdigest()[:32]


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


def cached_library(key: str):
    """The verified step library for `key`, or None."""
    return cached_file(f"{key}.so")


def store_library(key: str, build: Callable[[Path], None]) -> Path:
    return store_file(f"{key}.so", build)
