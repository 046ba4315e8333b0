"""`graphc dump` shows a while_loop and a cond as structured instructions with their regions, at every IR stage."""

import os
import subprocess
import sys

PROGRAM = '''
import graphc as tf

x = tf.placeholder(tf.float32, [3], name="x")
_, y = tf.while_loop(lambda i, y: i < 3, lambda i, y: (i + 1, tf.tanh(y) * 2.0 + x), [0, x])
z = tf.cond(tf.reduce_sum(y) > 0.0, lambda: y * 2.0, lambda: -y)
with tf.Session() as sess:
    print(sess.run(z, {x: [0.5, -0.5, 1.0]}))
'''


def test_dump_shows_loops_and_branches_with_their_regions(tmp_path):
    program = tmp_path / "loop.py"
    program.write_text(PROGRAM)
    result = subprocess.run([sys.executable, "-m", "graphc.tools.cli", "dump", str(program), "--stage", "ir"],
                            capture_output=True, text=True, env=dict(os.environ, MPLBACKEND="Agg"))
    assert result.returncode == 0, result.stderr
    lowered = result.stdout
    assert "= while %" in lowered and "    cond:" in lowered and "    body:" in lowered
    assert "= cond %" in lowered and "    then:" in lowered and "    else:" in lowered
    assert "= param {index=" in lowered and "yield" in lowered
    result = subprocess.run([sys.executable, "-m", "graphc.tools.cli", "dump", str(program), "-o", str(tmp_path / "d")],
                            capture_output=True, text=True, env=dict(os.environ, MPLBACKEND="Agg"))
    assert result.returncode == 0, result.stderr
    (step,) = (tmp_path / "d").iterdir()
    fused = (step / "008_fuse.txt").read_text()
    assert "kernel 0 while:" in fused or " while:\n" in fused
    assert "kernel" in fused.split("body:")[1].split("yield")[0]  # the body's own kernels
    planned = (step / "009_plan_memory.txt").read_text()
    assert "# memory:" in planned
    assert "br label %\"while.cond\"" in (step / "010_llvm.ll").read_text()  # a native loop in graphc_step
