"""A cache on a read-only, noexec or full file system says what is wrong, where, and to set GRAPHC_CACHE_DIR
(it was a raw OSError, or an InternalError quoting the linker).

Each case mounts a small tmpfs in a mount namespace of its own (`unshare --mount`), which needs root; the
tests skip otherwise.
"""

import os
import shutil
import subprocess
import sys

import pytest

from tests.backend.test_cache import PROGRAM, _seed_libraries


def _run_with_cache_on_tmpfs(tmp_path, options: str, prepare: str = ""):
    """Runs PROGRAM with GRAPHC_CACHE_DIR on a tmpfs mounted with `options`, after the shell line `prepare`."""
    if os.getuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("mounting a file system for the cache needs root and unshare (util-linux)")
    mount = tmp_path / "mnt"
    mount.mkdir()
    probe = subprocess.run(["unshare", "--mount", "mount", "-t", "tmpfs", "graphc-test", str(mount)],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {probe.stderr.strip()}")
    script = f'mount -t tmpfs -o {options} graphc-test "$MOUNT" && cd "$MOUNT" && {prepare or "true"} && ' \
             f'exec "$PYTHON" -c "$PROGRAM"'
    env = dict(os.environ, MOUNT=str(mount), PYTHON=sys.executable, PROGRAM=PROGRAM,
               GRAPHC_CACHE_DIR=str(mount / "cache"))
    return subprocess.run(["unshare", "--mount", "sh", "-c", script], env=env, capture_output=True, text=True,
                          timeout=300)


def test_read_only_file_system(tmp_path):
    result = _run_with_cache_on_tmpfs(tmp_path, "ro")
    assert result.returncode != 0
    assert (f"PermissionDeniedError: graphc cannot write its cache at {tmp_path / 'mnt' / 'cache'}: the file system "
            "is read-only; set GRAPHC_CACHE_DIR") in result.stderr, result.stderr


def test_noexec_file_system(tmp_path):
    result = _run_with_cache_on_tmpfs(tmp_path, "noexec")
    assert result.returncode != 0
    assert (f"PermissionDeniedError: graphc cannot load libraries from its cache {tmp_path / 'mnt' / 'cache'}: the "
            "file system is mounted noexec") in result.stderr, result.stderr
    assert "set GRAPHC_CACHE_DIR" in result.stderr


def test_full_file_system(tmp_path):
    seeded = tmp_path / "seeded"
    _seed_libraries(seeded)  # the runtime and GEMM libraries fit; the step's objects do not
    result = _run_with_cache_on_tmpfs(tmp_path, "size=2m", f'cp -a "{seeded}" cache && '
                                                           "(dd if=/dev/zero of=filler bs=4k 2>/dev/null || true)")
    assert result.returncode != 0
    assert (f"ResourceExhaustedError: graphc cannot write its cache at {tmp_path / 'mnt' / 'cache'}: no space left "
            "on the device") in result.stderr, result.stderr
    assert "set GRAPHC_CACHE_DIR" in result.stderr
