"""`tf.estimator.RunConfig`: where an Estimator keeps its checkpoints and how often it saves and logs."""

from __future__ import annotations

import copy

_DEFAULT_SAVE_CHECKPOINTS_SECS = 600


class RunConfig:
    """An Estimator's run settings (TF 1.15's defaults): checkpoints every 600 s unless
    `save_checkpoints_steps` is given, summaries every 100 steps, loss logged every 100 steps, 5 checkpoints
    kept. One process: `is_chief` is True, there are no parameter servers or other workers."""

    def __init__(self, model_dir=None, tf_random_seed=None, save_summary_steps=100, save_checkpoints_steps=None,
                 save_checkpoints_secs=None, session_config=None, keep_checkpoint_max=5,
                 keep_checkpoint_every_n_hours=10000, log_step_count_steps=100, train_distribute=None, device_fn=None,
                 protocol=None, eval_distribute=None, experimental_distribute=None,
                 experimental_max_worker_delay_secs=None, session_creation_timeout_secs=7200):
        if save_checkpoints_steps is not None and save_checkpoints_secs is not None:
            raise ValueError("Can not specify both save_checkpoints_steps and save_checkpoints_secs.")
        if save_checkpoints_steps is None and save_checkpoints_secs is None:
            save_checkpoints_secs = _DEFAULT_SAVE_CHECKPOINTS_SECS
        if train_distribute is not None or eval_distribute is not None or experimental_distribute is not None:
            raise NotImplementedError("graphc's Estimator runs in one process: distribution strategies "
                                      "(train_distribute, eval_distribute) are not supported")
        self._model_dir = None if model_dir is None else str(model_dir)
        self._tf_random_seed = tf_random_seed
        self._save_summary_steps = save_summary_steps
        self._save_checkpoints_steps = save_checkpoints_steps
        self._save_checkpoints_secs = save_checkpoints_secs
        self._session_config = session_config
        self._keep_checkpoint_max = keep_checkpoint_max
        self._keep_checkpoint_every_n_hours = keep_checkpoint_every_n_hours
        self._log_step_count_steps = log_step_count_steps
        self._device_fn = device_fn
        self._session_creation_timeout_secs = session_creation_timeout_secs

    model_dir = property(lambda self: self._model_dir)
    tf_random_seed = property(lambda self: self._tf_random_seed)
    save_summary_steps = property(lambda self: self._save_summary_steps)
    save_checkpoints_steps = property(lambda self: self._save_checkpoints_steps)
    save_checkpoints_secs = property(lambda self: self._save_checkpoints_secs)
    session_config = property(lambda self: self._session_config)
    keep_checkpoint_max = property(lambda self: self._keep_checkpoint_max)
    keep_checkpoint_every_n_hours = property(lambda self: self._keep_checkpoint_every_n_hours)
    log_step_count_steps = property(lambda self: self._log_step_count_steps)
    device_fn = property(lambda self: self._device_fn)
    session_creation_timeout_secs = property(lambda self: self._session_creation_timeout_secs)
    train_distribute = eval_distribute = cluster_spec = property(lambda self: None)
    master = evaluation_master = property(lambda self: "")
    is_chief = property(lambda self: True)
    num_ps_replicas = property(lambda self: 0)
    num_worker_replicas = property(lambda self: 1)
    task_type = property(lambda self: "worker")
    task_id = global_id_in_cluster = property(lambda self: 0)

    def replace(self, **kwargs):
        """A copy with the given settings changed: model_dir, tf_random_seed, save_summary_steps,
        save_checkpoints_steps or _secs (one replaces the other), session_config, keep_checkpoint_max ..."""
        if kwargs.get("save_checkpoints_steps") is not None and kwargs.get("save_checkpoints_secs") is not None:
            raise ValueError("Can not specify both save_checkpoints_steps and save_checkpoints_secs.")
        if kwargs.get("save_checkpoints_steps") is not None:
            kwargs["save_checkpoints_secs"] = None
        elif kwargs.get("save_checkpoints_secs") is not None:
            kwargs["save_checkpoints_steps"] = None
        new = copy.copy(self)
        for name, value in kwargs.items():
            if f"_{name}" not in vars(self):
                raise ValueError(f"Replacing {name} is not supported. Allowed properties are "
                                 f"{sorted(key[1:] for key in vars(self))}.")
            setattr(new, f"_{name}", str(value) if name == "model_dir" and value is not None else value)
        return new
