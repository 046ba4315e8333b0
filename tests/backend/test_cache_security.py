"""Another local user cannot hijack the cache: every directory on the way to it is checked, and a library is
loaded from the descriptor its bytes were verified through, never by its path again.

The attacker's layouts are made with a second user, nobody (uid 65534), which needs root; those tests skip
otherwise.
"""

import os
import shutil

import cffi
import numpy as np
import pytest

import graphc as tf
from graphc import errors
from graphc.runtime import cache

NOBODY = 65534


def _need_root() -> None:
    if os.getuid() != 0:
        pytest.skip("making another user's files needs root (run as root to give them to nobody, uid 65534)")


@pytest.fixture
def nobodys_directory(tmp_path):
    """A directory the user nobody owns: nobody can rename, replace or delete what is in it."""
    _need_root()
    directory = tmp_path / "nobodys"
    directory.mkdir()
    os.chown(directory, NOBODY, NOBODY)
    return directory


def test_cache_in_a_directory_another_user_owns_is_refused(nobodys_directory, setenv):
    private = nobodys_directory / "cache"
    private.mkdir(mode=0o700)  # ours and private, but its owner could swap it for another between check and load
    setenv("GRAPHC_CACHE_DIR", str(private))
    with pytest.raises(errors.PermissionDeniedError, match=f"{nobodys_directory} belongs to user 65534, not to "
                                                           "this user"):
        cache.cache_dir()


def test_cache_in_a_directory_others_can_write_is_refused(tmp_path, setenv):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    (shared / "cache").mkdir(mode=0o700)
    setenv("GRAPHC_CACHE_DIR", str(shared / "cache"))
    with pytest.raises(errors.PermissionDeniedError, match=f"other users can write to {shared} \\(on the way to it\\)"
                                                           ".*set GRAPHC_CACHE_DIR"):
        cache.cache_dir()


def test_cache_in_a_sticky_directory_like_tmp_is_accepted(tmp_path, setenv):
    # Others may add entries to a sticky directory but not rename or delete ours.
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)
    setenv("GRAPHC_CACHE_DIR", str(sticky / "cache"))
    assert cache.cache_dir() == sticky / "cache"
    assert (sticky / "cache").stat().st_mode & 0o777 == 0o700


def test_symlink_to_the_cache_owned_by_another_user_is_refused(tmp_path, setenv):
    _need_root()
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(private)
    os.lchown(link, NOBODY, NOBODY)
    setenv("GRAPHC_CACHE_DIR", str(link))
    with pytest.raises(errors.PermissionDeniedError, match=f"the symbolic link {link} belongs to user 65534"):
        cache.cache_dir()


def test_our_symlink_in_a_directory_another_user_owns_is_refused(nobodys_directory, tmp_path, setenv):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    link = nobodys_directory / "cache"
    link.symlink_to(private)  # ours, but nobody may replace it with a link of theirs
    setenv("GRAPHC_CACHE_DIR", str(link))
    with pytest.raises(errors.PermissionDeniedError, match=f"{nobodys_directory} belongs to user 65534"):
        cache.cache_dir()


def test_our_symlink_in_a_private_directory_is_followed(tmp_path, setenv):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(private)
    setenv("GRAPHC_CACHE_DIR", str(tmp_path / "link"))
    assert cache.cache_dir() == private


def test_the_library_loaded_is_the_one_whose_bytes_were_verified(tmp_path, setenv, monkeypatch):
    # Swap a step's library (and its checksum) for another's at the last moment, just before the dynamic
    # loader opens it, as a user who could rename files in the cache could: the verified one still runs.
    setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    x = tf.placeholder(tf.float32, [3])
    doubled, squared = x + x, x * x
    values = np.array([1, 2, 3], np.float32)
    sess = tf.Session()
    np.testing.assert_array_equal(sess.run(squared, {x: values}), [1, 4, 9])
    [impostor] = [p for p in tmp_path.glob("*.so") if not p.name.startswith("libgraphc_")]
    real_dlopen = cffi.FFI.dlopen
    swapped = []

    def swap_then_dlopen(ffi, name, flags=0):
        for library in tmp_path.glob("*.so"):
            if library != impostor and not library.name.startswith("libgraphc_"):
                for source, target in ((impostor, library), (impostor.with_suffix(".sha256"),
                                                             library.with_suffix(".sha256"))):
                    shutil.copy(source, tmp_path / "swap")
                    os.replace(tmp_path / "swap", target)
                swapped.append(library)
        return real_dlopen(ffi, name, flags)

    monkeypatch.setattr(cffi.FFI, "dlopen", swap_then_dlopen)
    np.testing.assert_array_equal(sess.run(doubled, {x: values}), [2, 4, 6])
    assert swapped and swapped[0].read_bytes() == impostor.read_bytes()
