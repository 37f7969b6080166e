"""Training on the synthetic tasks: model, losses, optimisers, checkpoints, the loop.

Data flow: a task's batch -> :class:`SequenceModel` (encoder, recurrent stack,
readout, loss) -> gradients -> clipping -> optimiser -> checkpoint and records.
"""
from .config import TrainConfig
from .model import SequenceModel
from .losses import softmax_cross_entropy, mse
from .optim import SGD, RMSProp, Adam, make_optimizer, clip_by_global_norm, clip_by_value, global_norm, make_schedule
from .checkpoint import CheckpointError
from .loop import train, evaluate, RunResult, NonFiniteError, RunExistsError, ResumeError

__all__ = ["TrainConfig", "SequenceModel", "softmax_cross_entropy", "mse", "SGD", "RMSProp", "Adam",
           "make_optimizer", "clip_by_global_norm", "clip_by_value", "global_norm", "make_schedule", "CheckpointError",
           "train", "evaluate", "RunResult", "NonFiniteError", "RunExistsError", "ResumeError"]
