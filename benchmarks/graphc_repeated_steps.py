"""graphc, N steps per native call: the same TF1 program, `sess.run(train_op, feed_dict, steps=N)`.

Each call runs STEPS_PER_CALL training steps on the fed batch (the tiny
regression trains on its 200 points at every step, as the TF1 tutorial does),
so the per-call overhead (Python, feed checks, the call itself) is paid once per
STEPS_PER_CALL steps. `step_with_loss` runs one step, for the losses check.
"""

import graphc_steps

NAME = "graphc, 100 steps a call"
VERSION = graphc_steps.VERSION
STEPS_PER_CALL = 100


class RepeatedTrainer:
    """A GraphcTrainer whose `step` runs STEPS_PER_CALL steps in one native call."""

    steps_per_call = STEPS_PER_CALL

    def __init__(self, trainer: graphc_steps.GraphcTrainer):
        self.trainer = trainer

    def prepare(self, inputs, targets):
        return self.trainer.prepare(inputs, targets)

    def step(self, feed_dict):
        self.trainer.session.run(self.trainer.train_op, feed_dict, steps=STEPS_PER_CALL)

    def step_with_loss(self, feed_dict) -> float:
        return self.trainer.step_with_loss(feed_dict)

    def wait(self):
        """Nothing to wait for: `sess.run` returns when the steps are done."""


def mlp_trainer(workload) -> RepeatedTrainer:
    return RepeatedTrainer(graphc_steps.mlp_trainer(workload))


def tiny_trainer(workload) -> RepeatedTrainer:
    return RepeatedTrainer(graphc_steps.tiny_trainer(workload))
