"""TF's session and run options, and what a graphc session does with each field.

The classes are TensorFlow's own protobuf messages as TensorBoard ships them
(`tensorboard.compat.proto.config_pb2`): `tf.ConfigProto`, `tf.GPUOptions`,
`tf.RunOptions`, `tf.RunMetadata` ... (the `tensorboard` extra). graphc honours

| field                          | what graphc does                                                    |
|--------------------------------|---------------------------------------------------------------------|
| allow_soft_placement           | an op asking for a device the host lacks runs on the CPU (placement)|
| log_device_placement           | prints each op's device when a run is first placed (placement)      |
| device_count["CPU"]            | how many CPU devices `/cpu:i` may name (one by default)             |
| intra_op_parallelism_threads   | the size of graphc's thread pool, which is process-wide as TF's     |
|                                | default pools are: the session that first runs a step with it set   |
|                                | sizes it (0: GRAPHC_NUM_THREADS, else the CPU count)                 |
| inter_op_parallelism_threads   | accepted: a step runs its kernels one after another, each using the |
|                                | intra-op pool, so there are no independent ops to run side by side  |
| gpu_options, device_count[GPU] | accepted: the host has no GPU                                       |

and of RunOptions, `trace_level=FULL_TRACE`, which fills the RunMetadata's
step_stats with per-kernel timings (`graphc/run_trace.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

from graphc.core.protos import protos
from graphc.placement import Placer

# TensorFlow's config messages exported as tf.<name>.
PROTO_NAMES = ("ConfigProto", "GPUOptions", "GraphOptions", "OptimizerOptions", "RunOptions", "RunMetadata")


def proto_class(name: str):
    """TF's protobuf class `name` (one of PROTO_NAMES), from TensorBoard's copy of config.proto."""
    return getattr(protos().config_pb2, name)


@dataclass(frozen=True)
class SessionOptions:
    """What a session takes from its ConfigProto."""

    placer: Placer
    intra_op_threads: int  # 0: leave the thread pool as it is
    inter_op_threads: int


def session_options(config) -> SessionOptions:
    """The options of `config` (a ConfigProto, or None for TF's defaults); TypeError for anything else."""
    if config is None:
        return SessionOptions(Placer(1, False, False), 0, 0)
    if not isinstance(config, proto_class("ConfigProto")):
        raise TypeError(f"config must be a tf.ConfigProto, but got {type(config)}")
    cpu_count = config.device_count["CPU"] if "CPU" in config.device_count else 1
    placer = Placer(cpu_count, config.allow_soft_placement, config.log_device_placement)
    return SessionOptions(placer, max(config.intra_op_parallelism_threads, 0),
                          max(config.inter_op_parallelism_threads, 0))


def wants_trace(options) -> bool:
    """Whether RunOptions `options` (or None) ask for a trace of the run's kernels (FULL_TRACE)."""
    if options is None:
        return False
    run_options = proto_class("RunOptions")
    if not isinstance(options, run_options):
        raise TypeError(f"options must be a tf.RunOptions, but got {type(options)}")
    return options.trace_level != run_options.NO_TRACE
