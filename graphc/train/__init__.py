"""`tf.train`: optimizers, learning-rate schedules, the global step, saving and restoring variables, and
training sessions with hooks (MonitoredSession, SessionRunHook)."""

from graphc.train.adagrad import AdagradOptimizer
from graphc.train.adam import AdamOptimizer
from graphc.train.basic_session_run_hooks import (CheckpointSaverHook, CheckpointSaverListener, FeedFnHook,
                                                  LoggingTensorHook, NanLossDuringTrainingError, NanTensorHook,
                                                  SecondOrStepTimer, StepCounterHook, StopAtStepHook,
                                                  SummarySaverHook)
from graphc.train.checkpoint_io import CheckpointState
from graphc.train.checkpoint_utils import NewCheckpointReader, list_variables, load_checkpoint, load_variable
from graphc.train.gradient_descent import GradientDescentOptimizer
from graphc.train.learning_rate_decay import exponential_decay
from graphc.train.meta_graph import export_meta_graph, import_meta_graph, write_graph
from graphc.train.momentum import MomentumOptimizer
from graphc.train.monitored_session import (ChiefSessionCreator, MonitoredSession, MonitoredTrainingSession, Scaffold,
                                            SingularMonitoredSession)
from graphc.train.optimizer import Optimizer
from graphc.train.rmsprop import RMSPropOptimizer
from graphc.train.saver import Saver, checkpoint_exists, get_checkpoint_state, latest_checkpoint
from graphc.train.session_run_hook import SessionRunArgs, SessionRunContext, SessionRunHook, SessionRunValues
from graphc.train.training_util import create_global_step, get_global_step, get_or_create_global_step

__all__ = ["AdagradOptimizer", "AdamOptimizer", "CheckpointSaverHook", "CheckpointSaverListener", "CheckpointState",
           "ChiefSessionCreator", "FeedFnHook", "GradientDescentOptimizer", "LoggingTensorHook", "MomentumOptimizer",
           "MonitoredSession", "MonitoredTrainingSession", "NanLossDuringTrainingError", "NanTensorHook",
           "NewCheckpointReader", "Optimizer", "RMSPropOptimizer", "Saver", "Scaffold", "SecondOrStepTimer",
           "SessionRunArgs", "SessionRunContext", "SessionRunHook", "SessionRunValues", "SingularMonitoredSession",
           "StepCounterHook", "StopAtStepHook", "SummarySaverHook", "checkpoint_exists", "create_global_step",
           "exponential_decay", "export_meta_graph", "get_checkpoint_state", "get_global_step",
           "get_or_create_global_step", "import_meta_graph", "latest_checkpoint", "list_variables",
           "load_checkpoint", "load_variable", "write_graph"]
