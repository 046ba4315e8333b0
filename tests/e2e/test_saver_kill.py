"""Killing a saving process at any moment loses nothing: the latest checkpoint stays complete and loadable.

A child process (this file run as a script) resumes from the latest
checkpoint and then saves over and over, every variable holding the step
number of its save, either under new prefixes (`model.ckpt-N`, in TensorFlow's
format, the default) or always the same one (`model.ckpt`, overwritten in
place, in safetensors: its one file is replaced atomically, while TensorFlow's
two files, written as TensorFlow writes them, cannot both be). The parent SIGKILLs it, either after a random delay or
exactly at one of the save's steps (before/after the data file's rename,
before/after the state file's rename, while deleting old checkpoints), and
checks after every kill that the latest checkpoint is at least as new as the
last save that returned, restores into a fresh graph, and holds one save's
values in every variable.
"""

import os
import random
import signal
import subprocess
import sys
import time

import numpy as np

import graphc as tf

SHAPE = [512, 512]  # 1 MiB of float32 per layer
LAYERS = 8
MAX_TO_KEEP = 3
PHASES = ["data-replace", "data-replaced", "state-replace", "state-replaced", "delete"]
RANDOM_KILLS = 14
DEADLINE = 60.0  # seconds a child may take to reach its kill point: a hang guard (a loaded 2-core machine took over 15)


def build_model():
    """The layers, the global step, and an op (fed `value`) writing one number into all of them."""
    layers = [tf.Variable(tf.zeros(SHAPE), name=f"layer{i}/weights") for i in range(LAYERS)]
    step = tf.train.create_global_step()
    value = tf.placeholder(tf.int64, [], name="value")
    fill = tf.fill(SHAPE, tf.cast(value, tf.float32))
    write_all = tf.group(*[layer.assign(fill) for layer in layers], step.assign(value))
    return layers, step, value, write_all


# -- the child --------------------------------------------------------------------------------


def stop_at(phase: str, occurrence: int) -> None:
    """Makes the process announce `phase` on its `occurrence`-th time and then wait to be killed."""
    seen = {}

    def reached(name):
        seen[name] = seen.get(name, 0) + 1
        if name == phase and seen[name] == occurrence:
            print(f"at {name}", flush=True)
            time.sleep(3600)

    def kind(path):
        return "state" if os.path.basename(path) == "checkpoint" else "data"

    real_replace, real_remove = os.replace, os.remove

    def replace(source, target, **dir_fds):
        if dir_fds:  # the compile cache's stores (relative to a directory descriptor), not the checkpoint's
            return real_replace(source, target, **dir_fds)
        reached(f"{kind(target)}-replace")
        real_replace(source, target)
        reached(f"{kind(target)}-replaced")

    def remove(path):
        if path.endswith((".safetensors", ".index")):
            reached("delete")
        real_remove(path)

    os.replace, os.remove = replace, remove


def child(directory: str, prefixes: str, phase: str, occurrence: int) -> None:
    _, step, value, write_all = build_model()
    checkpoint_format = "tf" if prefixes == "numbered" else "safetensors"
    saver = tf.train.Saver(max_to_keep=MAX_TO_KEEP, checkpoint_format=checkpoint_format)
    sess = tf.Session()
    latest = tf.train.latest_checkpoint(directory)
    if latest is None:
        sess.run(tf.global_variables_initializer())
    else:
        saver.restore(sess, latest)
        saver.recover_last_checkpoints(tf.train.get_checkpoint_state(directory).all_model_checkpoint_paths)
    number = int(sess.run(step))
    saver.export_meta_graph()  # loads the protobuf classes the saves' .meta files need before the kills start
    if phase != "random":
        stop_at(phase, occurrence)
    print("ready", flush=True)
    while True:
        number += 1
        sess.run(write_all, {value: number})
        saver.save(sess, os.path.join(directory, "model.ckpt"), global_step=step if prefixes == "numbered" else None)
        print(f"saved {number}", flush=True)


# -- the parent -------------------------------------------------------------------------------


def run_and_kill(directory, prefixes: str, phase: str, occurrence: int, delay: float) -> list:
    """Runs a child until its kill point, SIGKILLs it; returns its output lines."""
    stderr_path = directory + ".stderr"
    with open(stderr_path, "w") as stderr:
        process = subprocess.Popen([sys.executable, __file__, directory, prefixes, phase, str(occurrence)],
                                   stdout=subprocess.PIPE, stderr=stderr, text=True)
    lines = []
    started = time.monotonic()
    wanted = "ready" if phase == "random" else f"at {phase}"
    try:
        while not lines or lines[-1] != wanted:
            line = process.stdout.readline()
            assert line, f"child exited early:\n{open(stderr_path).read()}"
            lines.append(line.strip())
            assert time.monotonic() - started < DEADLINE, f"child did not reach {wanted}: {lines[-5:]}"
        time.sleep(delay)
    finally:
        process.send_signal(signal.SIGKILL)
        lines += [line.strip() for line in process.stdout]
        process.wait()
    assert process.returncode == -signal.SIGKILL, open(stderr_path).read()
    return lines


def restored_number(prefix: str) -> int:
    """Restores `prefix` into a fresh graph and session; the one step number all its variables hold."""
    graph = tf.Graph()
    with graph.as_default():
        layers, step, _, _ = build_model()
        saver = tf.train.Saver()
    with tf.Session(graph=graph) as sess:
        saver.restore(sess, prefix)
        number = int(sess.run(step))
        for layer in sess.run(layers):
            assert np.all(layer == number), f"{prefix} mixes saves: step {number}, layer holds {layer.flat[0]}"
    assert prefix.endswith((f"-{number}", "model.ckpt"))
    return number


def test_killed_saves_never_lose_the_latest_checkpoint(tmp_path):
    directory = str(tmp_path / "checkpoints")
    os.mkdir(directory)
    generator = random.Random(1234)
    kills = [("random", 0, generator.uniform(0.0, 0.4)) for _ in range(RANDOM_KILLS)]
    kills += [(phase, occurrence, 0.0) for phase in PHASES for occurrence in (1, 2)]
    generator.shuffle(kills)
    kills.insert(0, ("random", 0, 0.6))  # make sure that saves exist before the targeted kills
    completed = 0
    for phase, occurrence, delay in kills:
        # Same-prefix saves never delete: their delete kill point is one of the numbered runs'.
        prefixes = "numbered" if phase == "delete" else generator.choice(["numbered", "same"])
        lines = run_and_kill(directory, prefixes, phase, occurrence, delay)
        completed = max([completed] + [int(line.split()[1]) for line in lines if line.startswith("saved ")])
        latest = tf.train.latest_checkpoint(directory)
        if completed:
            assert latest is not None, f"no latest checkpoint after a kill at {phase} #{occurrence}"
        if latest is None:
            continue
        assert restored_number(latest) >= completed, f"a returned save was lost (kill at {phase})"
        for prefix in tf.train.get_checkpoint_state(directory).all_model_checkpoint_paths:
            restored_number(prefix)
    assert completed >= 10
    leftovers = {name for name in os.listdir(directory) if name != "checkpoint"
                 and not name.endswith((".safetensors", ".index", ".data-00000-of-00001", ".meta", ".tmp"))}
    assert not leftovers


if __name__ == "__main__":
    child(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
