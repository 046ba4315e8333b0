"""GRAPHC_DUMP cannot be turned against its user: a dump directory others can change is refused, and a link
planted at a dump file's predictable name is never followed.

The attacker's files are given to a second user, nobody (uid 65534), when running as root.
"""

import os

import pytest

import graphc as tf
from graphc import errors
from graphc.compiler import dump

NOBODY = 65534


def test_dump_directory_others_can_write_is_refused(tmp_path, setenv):
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    dumps.chmod(0o777)
    setenv("GRAPHC_DUMP", str(dumps))
    x = tf.placeholder(tf.float32, [2])
    with pytest.raises(errors.PermissionDeniedError, match=f"graphc will not write dumps to {dumps}: other users can "
                                                           "write to it"):
        tf.Session().run(x * 2, {x: [1, 2]})
    assert not os.listdir(dumps)


def test_dump_directory_in_another_users_directory_is_refused(tmp_path, setenv):
    if os.getuid() != 0:
        pytest.skip("making another user's directory needs root (to give it to nobody, uid 65534)")
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    os.chown(theirs, NOBODY, NOBODY)
    setenv("GRAPHC_DUMP", str(theirs / "dumps"))
    x = tf.placeholder(tf.float32, [2])
    with pytest.raises(errors.PermissionDeniedError, match=f"{theirs} belongs to user 65534"):
        tf.Session().run(x * 2, {x: [1, 2]})


def test_a_link_planted_at_a_dump_files_name_is_not_followed(tmp_path, setenv):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    dumps = tmp_path / "dumps"
    setenv("GRAPHC_DUMP", str(dumps))
    x = tf.placeholder(tf.float32, [2])
    first, second = x * 2, x + 1
    sess = tf.Session()
    sess.run(first, {x: [1, 2]})  # dumped into 000_<first>
    # The next signature's files have predictable names: a link waits at the first of them.
    planted = dumps / f"001_{dump.signature_label([second])}"
    planted.mkdir()
    (planted / "000_graph.txt").symlink_to(victim)
    if os.getuid() == 0:
        os.lchown(planted / "000_graph.txt", NOBODY, NOBODY)
        os.chown(planted, NOBODY, NOBODY)
    assert sess.run(second, {x: [1, 2]}).tolist() == [2, 3]
    assert victim.read_text() == "precious"
    [written] = [d for d in dumps.iterdir() if d.name.endswith(planted.name[3:]) and d != planted]
    assert written.name.startswith("002_") and not (written / "000_graph.txt").is_symlink()
    assert (written / "000_graph.txt").read_text().startswith("Placeholder = Placeholder()")
