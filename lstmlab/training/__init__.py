"""Training on the synthetic tasks: model, losses, optimisers, checkpoints, the loop.

Data flow: a task's batch -> :class:`SequenceModel` (encoder, recurrent stack,
readout, loss) -> gradients -> clipping -> optimiser -> checkpoint and records.
"""
from .checkpoint import CheckpointError
from .config import TrainConfig
from .loop import NonFiniteError, ResumeError, RunExistsError, RunResult, evaluate, train
from .losses import mse, softmax_cross_entropy
from .model import SequenceModel
from .optim import SGD, Adam, RMSProp, clip_by_global_norm, clip_by_value, global_norm, make_optimizer, make_schedule

__all__ = ["TrainConfig", "SequenceModel", "softmax_cross_entropy", "mse", "SGD", "RMSProp", "Adam",
           "make_optimizer", "clip_by_global_norm", "clip_by_value", "global_norm", "make_schedule", "CheckpointError",
           "train", "evaluate", "RunResult", "NonFiniteError", "RunExistsError", "ResumeError"]
