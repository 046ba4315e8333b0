"""The on-disk cache of compiled libraries, by name.

Names are content hashes chosen by the caller (backend/libraries.py: the
program's text and a fingerprint of the compiler). An entry is a library, or
a compiled step's record (`<name>.step`, compiler/step_records.py), and its
SHA-256 beside it (`<name>.sha256`), written under a temporary name and
renamed into place.

Nothing another user can change is ever loaded: the cache directory is opened
through `private_dirs` (every directory on the way checked, no one else's
symbolic links); an entry is opened once, relative to that descriptor, with
O_NOFOLLOW and O_NONBLOCK (a FIFO planted there cannot block), and must be a
non-empty regular file; its bytes are read from that descriptor and checked
against the checksum, and the loader maps that same descriptor (`Library.fd`).
A damaged entry (truncated, empty, a FIFO, a symbolic link) is rebuilt; a
directory in the way is an InternalError naming it.

The cache holds at most GRAPHC_CACHE_MAX_BYTES: every hit touches the entry's
checksum file, so its modification time is the entry's last use, and a store
deletes the least recently used entries until the cache holds 15/16 of the
bound. Finding the entries' sizes reads the whole directory (50-150 ms for
4,000 files on a busy 2-core machine; 1 GB of 15 KB steps is 130,000 files),
so a process does it on its first store and then once
it has stored 1/16 of the bound since: one process never takes the cache past
the bound by more than an entry; several at once, by 1/16 of it each at most.

A cache that cannot work — on a read-only, full or noexec file system —
raises the TF error for what is wrong, naming the directory and GRAPHC_CACHE_DIR.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import tempfile
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from graphc import environment, errors
from graphc.runtime import private_dirs

_ENTRY_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CHECKSUM_BYTES = 64  # a hex SHA-256
_READ_CHUNK = 1 << 20
_ELSEWHERE = "set GRAPHC_CACHE_DIR to a directory only you can write, on a local file system"
_EVICTION_SLACK = 16  # a 16th of the bound: stored between two looks at the cache's size, freed by each
_stored_since_eviction: dict = {}  # cache directory -> bytes this process has stored there since it last evicted
_eviction_lock = threading.Lock()


class Library:
    """A verified cache entry, open: loaders map `fd` itself; `path` names it in messages only.

    Close it (or use it as a context manager) once loaded; one dropped on the
    way, by a failed compile say, closes its descriptor when collected.
    """

    def __init__(self, fd: int, path: Path):
        self.fd = fd
        self.path = path
        self._closer = weakref.finalize(self, os.close, fd)

    def close(self) -> None:
        """Closes the descriptor (once: later calls do nothing)."""
        self._closer()

    def __enter__(self) -> "Library":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def cache_dir() -> Path:
    """$GRAPHC_CACHE_DIR, else ~/.cache/graphc: created private (0700), and checked (see the module docstring)."""
    with _open_cache() as directory:
        return directory.path


def cached_file(name: str) -> Optional[Library]:
    """The open, verified entry called `name`, or None when the cache has no sound one (build it then)."""
    with _open_cache() as directory:
        fd = _open_entry(directory, name)
        if fd is None:
            return None
        try:
            verified = _matches_checksum(directory, name, fd)
        except BaseException:
            os.close(fd)
            raise
        if not verified:
            os.close(fd)
            return None
        return Library(fd, directory.path / name)


def store_file(name: str, build: Callable[[Path], None], keep: tuple = ()) -> Library:
    """Builds an entry with `build(path)`, moves it and its checksum into the cache, and returns it open.

    Then, when due, deletes least recently used entries other than it and the entries named in `keep`
    (those it refers to: see the module docstring).
    """
    with _open_cache() as directory:
        try:
            library = _build_entry(directory, name, build)
        except OSError as e:
            raise _storage_error(e, directory.path) from None
        except errors.InternalError as e:  # the compiler or linker failed: maybe for want of space
            raise _failed_build_error(e, directory) from None
        if _eviction_due(directory.path, os.fstat(library.fd).st_size):
            _evict_least_recently_used(directory, keep=(name, *keep))
        return library


def _open_cache() -> private_dirs.PrivateDirectory:
    configured = environment.get().cache_dir
    try:
        directory = private_dirs.open_private_directory(configured, "load libraries from", _ELSEWHERE)
    except OSError as e:
        raise _storage_error(e, configured) from None
    if os.fstatvfs(directory.fd).f_flag & os.ST_NOEXEC:
        directory.close()
        raise errors.PermissionDeniedError(
            None, None, f"graphc cannot load libraries from its cache {configured}: the file system is mounted "
                        "noexec, so no code can be run from it; set GRAPHC_CACHE_DIR to a directory on another one")
    return directory


def _checksum_name(name: str) -> str:
    return os.path.splitext(name)[0] + ".sha256"


def _open_entry(directory: private_dirs.PrivateDirectory, name: str) -> Optional[int]:
    """A descriptor of the non-empty regular file `name`, or None when there is none, or not a sound one."""
    try:
        fd = os.open(name, _ENTRY_FLAGS, dir_fd=directory.fd)
    except FileNotFoundError:
        return None
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENXIO):  # a symbolic link, a socket: replaced when rebuilt
            return None
        raise _storage_error(e, directory.path / name) from None
    status = os.fstat(fd)
    if stat.S_ISREG(status.st_mode) and status.st_size > 0:
        return fd
    os.close(fd)
    if stat.S_ISDIR(status.st_mode):  # no file can be renamed over it
        raise errors.InternalError(None, None, f"graphc's cache entry {directory.path / name} is a directory, "
                                               "not a file: remove it")
    return None  # empty, a FIFO, a device: rebuilt, and renamed over


def _matches_checksum(directory: private_dirs.PrivateDirectory, name: str, fd: int) -> bool:
    """Whether the bytes read through `fd` have the SHA-256 stored beside them (the entry is then marked used)."""
    checksum = _open_entry(directory, _checksum_name(name))
    if checksum is None:
        return False
    try:
        if os.pread(checksum, _CHECKSUM_BYTES + 2, 0).decode(errors="replace").strip() != _digest(fd):
            return False
        _touch(checksum)
        return True
    finally:
        os.close(checksum)


def _digest(fd: int) -> str:
    digest = hashlib.sha256()
    offset = 0
    while chunk := os.pread(fd, _READ_CHUNK, offset):
        digest.update(chunk)
        offset += len(chunk)
    return digest.hexdigest()


def _touch(fd: int) -> None:
    """Marks an entry used now (its checksum's modification time orders eviction)."""
    try:
        os.utime(fd)
    except OSError:
        pass  # a read-only cache still serves what it has


def _build_entry(directory: private_dirs.PrivateDirectory, name: str, build: Callable[[Path], None]) -> Library:
    with tempfile.TemporaryDirectory(dir=directory.path) as work:  # private: mkdtemp makes it 0700
        built = Path(work) / "entry"
        build(built)
        fd = os.open(built, _ENTRY_FLAGS)
        try:
            status = os.fstat(fd)
            if not stat.S_ISREG(status.st_mode) or status.st_size == 0:
                raise errors.InternalError(None, None, f"building {directory.path / name} made no library")
            checksum = Path(work) / "entry.sha256"
            checksum.write_text(_digest(fd))
            os.replace(built, name, dst_dir_fd=directory.fd)
            os.replace(checksum, _checksum_name(name), dst_dir_fd=directory.fd)
        except BaseException:
            os.close(fd)
            raise
    return Library(fd, directory.path / name)


def _eviction_due(path: Path, stored: int) -> bool:
    """Whether storing `stored` bytes calls for a look at the cache's size: on this process's first store
    into `path`, and then once it has stored a 16th of GRAPHC_CACHE_MAX_BYTES since it last looked."""
    bound = environment.get().cache_max_bytes
    with _eviction_lock:
        pending = _stored_since_eviction.get(path, bound) + stored  # never looked: due
        due = pending > bound // _EVICTION_SLACK
        _stored_since_eviction[path] = 0 if due else pending
    return due


def _evict_least_recently_used(directory: private_dirs.PrivateDirectory, keep: tuple) -> None:
    """Deletes entries other than those named in `keep`, least recently used first, until the cache holds at
    most 15/16 of
    GRAPHC_CACHE_MAX_BYTES (room for the stores until the next look, see `_eviction_due`).

    Deleting a library another process has mapped, or opened to load, is safe
    on Linux: unlinking removes the name only, and the file lives on until its
    last mapping and descriptor are gone. That process keeps running it; the
    next one to want it builds it again.
    """
    entries: dict[str, _Entry] = {}
    with os.scandir(directory.fd) as items:
        for item in items:
            try:
                if not item.is_file(follow_symlinks=False):
                    continue  # the temporary directories of builds in progress
                status = item.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # evicted meanwhile by another process
            entries.setdefault(os.path.splitext(item.name)[0], _Entry()).add(item.name, status)
    total = sum(entry.size for entry in entries.values())
    bound = environment.get().cache_max_bytes
    kept = {os.path.splitext(name)[0] for name in keep}
    for stem, entry in sorted(entries.items(), key=lambda item: item[1].last_use):
        if total <= bound - bound // _EVICTION_SLACK:
            break
        if stem in kept:
            continue
        for file_name in entry.file_names:
            try:
                os.unlink(file_name, dir_fd=directory.fd)
            except FileNotFoundError:
                pass  # another process evicted it first
        total -= entry.size


@dataclass
class _Entry:
    """The files of one cache entry (`<name>.so`, `<name>.sha256`), as eviction sees them."""

    size: int = 0
    last_use: float = 0.0  # the latest modification time of its files: a hit touches the checksum
    file_names: list = field(default_factory=list)

    def add(self, file_name: str, status: os.stat_result) -> None:
        self.size += status.st_size
        self.last_use = max(self.last_use, status.st_mtime)
        self.file_names.append(file_name)


def _storage_error(error: OSError, where: Path) -> errors.OpError:
    """The TF error for a file system refusing the cache, saying what is wrong and where."""
    if error.errno == errno.EROFS:
        return errors.PermissionDeniedError(None, None, f"graphc cannot write its cache at {where}: the file system "
                                                        f"is read-only; {_ELSEWHERE}")
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return errors.ResourceExhaustedError(None, None, f"graphc cannot write its cache at {where}: no space left on "
                                                         f"the device (or over quota); free some, or {_ELSEWHERE}")
    if error.errno in (errno.EACCES, errno.EPERM):
        return errors.PermissionDeniedError(None, None, f"graphc cannot use its cache at {where}: permission denied "
                                                        f"({error.strerror}); {_ELSEWHERE}")
    return errors.InternalError(None, None, f"graphc cannot use its cache at {where}: {error}")


def _failed_build_error(error: errors.InternalError, directory: private_dirs.PrivateDirectory) -> errors.OpError:
    """A failed compiler or linker: explained as the file system's fault when it is read-only or full."""
    status = os.fstatvfs(directory.fd)
    if status.f_flag & os.ST_RDONLY:
        return _storage_error(OSError(errno.EROFS, os.strerror(errno.EROFS)), directory.path)
    # The linker says it in the C library's words (ld: "final link failed: No space left on device").
    if status.f_bavail == 0 or any(os.strerror(code) in error.message for code in (errno.ENOSPC, errno.EDQUOT)):
        return _storage_error(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), directory.path)
    return error
