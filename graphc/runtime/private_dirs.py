"""Directories only this user (or root) can change, opened one component at a time.

graphc loads libraries from its cache and writes dumps into a directory the
user names. If another local user could rename or replace any directory on
the way there, they could swap in their own library or point a dump file at
any file this user can write. So `open_private_directory` walks the path from
`/` with a descriptor per component (`openat` with O_NOFOLLOW, then `fstat` of
what was opened, never a second look-up by name) and refuses a component that

- belongs to another user than this one or root;
- other users can write to, unless it is sticky (like /tmp: others may add
  entries there but not rename or delete ours, and the next component is
  checked in turn);
- is a symbolic link another user owns (ours and root's are followed: nobody
  else can change them, as the directory holding them is checked first).

The directory itself must be this user's and writable by nobody else. The
caller keeps the returned descriptor and opens what it needs relative to it.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path, PurePosixPath

from graphc import errors

_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_SYMLINKS = 40  # Linux's own limit on links followed in one path look-up
_OTHERS_WRITE = stat.S_IWGRP | stat.S_IWOTH


class PrivateDirectory:
    """An open, checked directory: `fd` to open entries relative to, `path` (symlinks resolved) for messages."""

    def __init__(self, fd: int, path: Path):
        self.fd = fd
        self.path = path

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> "PrivateDirectory":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_private_directory(path: Path, refusal: str, advice: str, create: bool = True) -> PrivateDirectory:
    """Opens `path` (creating what is missing, mode 0700) after checking every component on the way.

    A component others could change raises PermissionDeniedError, worded
    `graphc will not <refusal> <path>: <reason>; <advice>`. Other failures
    (a read-only file system, a missing directory with `create` False) raise
    the OSError, for the caller to explain.
    """
    # Joined, not normalised: `link/..` is the link target's parent, as the kernel has it.
    walk = _Walk(Path(os.path.join(os.getcwd(), path)), f"graphc will not {refusal} {path}", advice, create)
    try:
        return walk.run()
    finally:
        walk.close()


class _Walk:
    """One walk from `/` to a directory: a stack of (descriptor, path) for the components opened so far."""

    def __init__(self, path: Path, refusal: str, advice: str, create: bool):
        self.target, self.refusal, self.advice, self.create = path, refusal, advice, create
        self.uid = os.getuid()
        self.stack: list = []

    def close(self) -> None:
        for fd, _ in self.stack:
            os.close(fd)
        self.stack = []

    def run(self) -> PrivateDirectory:
        self._restart_at_root()
        pending = list(PurePosixPath(self.target).parts[1:])
        links = 0
        while pending:
            name = pending.pop(0)
            if name in ("", "."):
                continue
            if name == "..":
                if len(self.stack) > 1:
                    os.close(self.stack.pop()[0])
                continue
            parent_fd, parent_path = self.stack[-1]
            here = parent_path / name
            status = self._lstat_or_create(parent_fd, name)
            if stat.S_ISLNK(status.st_mode):
                self._check_owner(here, status, "the symbolic link ")
                links += 1
                if links > _MAX_SYMLINKS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(self.target))
                target = os.readlink(name, dir_fd=parent_fd)
                if target.startswith("/"):
                    self._restart_at_root()
                pending[:0] = list(PurePosixPath(target).parts[1 if target.startswith("/") else 0:])
                continue
            fd = os.open(name, _DIRECTORY_FLAGS, dir_fd=parent_fd)
            self.stack.append((fd, here))
            self._check_directory(here, os.fstat(fd), final=not pending)
        fd, path = self.stack.pop()
        try:  # again: a trailing `..` may end the walk at a directory checked on the way
            self._check_directory(path, os.fstat(fd), final=True)
        except BaseException:
            os.close(fd)
            raise
        return PrivateDirectory(fd, path)

    def _restart_at_root(self) -> None:
        self.close()
        fd = os.open("/", _DIRECTORY_FLAGS)
        self.stack.append((fd, Path("/")))
        self._check_directory(Path("/"), os.fstat(fd), final=False)

    def _lstat_or_create(self, parent_fd: int, name: str) -> os.stat_result:
        try:
            return os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
        except FileNotFoundError:
            if not self.create:
                raise
        try:
            os.mkdir(name, 0o700, dir_fd=parent_fd)
        except FileExistsError:
            pass  # made meanwhile by another process: checked like any other
        return os.stat(name, dir_fd=parent_fd, follow_symlinks=False)

    def _check_owner(self, path: Path, status: os.stat_result, what: str = "") -> None:
        if status.st_uid not in (0, self.uid):
            self._refuse(f"{what}{path} belongs to user {status.st_uid}, not to this user ({self.uid}) or root")

    def _check_directory(self, path: Path, status: os.stat_result, final: bool) -> None:
        if final and status.st_uid != self.uid:
            self._refuse(f"it belongs to user {status.st_uid}, not to this user ({self.uid})")
        self._check_owner(path, status)
        if status.st_mode & _OTHERS_WRITE and (final or not status.st_mode & stat.S_ISVTX):
            where = "it" if final else f"{path} (on the way to it)"
            self._refuse(f"other users can write to {where} (mode {stat.S_IMODE(status.st_mode):o})")

    def _refuse(self, reason: str) -> None:
        raise errors.PermissionDeniedError(None, None, f"{self.refusal}: {reason}; {self.advice}")
