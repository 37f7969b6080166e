"""What a task is, and the task registry.

A task generates seeded batches of sequences and knows its memoryless
baseline: the loss of the best predictor that does not remember the inputs it
has to carry across the delay. A run "beats the baseline" only when its
held-out loss is clearly below that number.

Tasks register by name with :func:`register_task` (a decorator) in ``TASKS``, a
:class:`lstmlab.registry.Registry`; third-party packages can add tasks through the
entry-point group ``lstmlab.tasks``, loaded lazily (a broken one warns and is skipped).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np

from ..registry import Registry, UnknownNameError

__all__ = ["Batch", "Task", "register_task", "get_task", "task_names", "make_task", "UnknownTaskError",
           "TASK_ENTRY_POINT_GROUP", "TASKS"]

TASK_ENTRY_POINT_GROUP = "lstmlab.tasks"

#: Offset mixed into the seed of a held-out set, so it never overlaps a training stream.
_HELDOUT_STREAM = 0x4E1D


@dataclass
class Batch:
    """One batch, time-major.

    inputs  : (T, B) int64 symbols (``Task.n_symbols`` > 0) or (T, B, D) float64 values.
    targets : (T, B) int64 class per step (``readout == "every"``) or (B, K) float64
              (``readout == "last"``).
    lengths : (B,) int64 valid lengths, or None when every sequence has length T.
    weights : (T, B) float64 loss weights per step, or None for all ones.
    """

    inputs: np.ndarray
    targets: np.ndarray
    lengths: np.ndarray | None = None
    weights: np.ndarray | None = None

    @property
    def size(self) -> int:
        return self.inputs.shape[1]


class Task:
    """Base class of a synthetic sequence task.

    Subclasses set the class attributes and implement :meth:`sample`,
    :meth:`baseline` and, where useful, :meth:`metrics`.

    Class attributes
    ----------------
    name, reference : str
    n_symbols : int    number of input symbols (one-hot encoded by the model), 0 for real inputs
    input_size : int   D for real-valued inputs (ignored when n_symbols > 0)
    output_size : int  K: classes per step, or regression outputs
    readout : "every" (an output per step) or "last" (one at each sequence's last step)
    loss : "xent" (softmax cross-entropy) or "mse"
    min_T : int        smallest T the task is defined for
    """

    name = ""
    reference = ""
    description = ""
    n_symbols = 0
    input_size = 0
    output_size = 1
    readout = "last"
    loss = "mse"
    min_T = 1
    max_T = 1_000_000

    def __init__(self, T: int):
        if not isinstance(T, (int, np.integer)) or isinstance(T, bool):
            raise TypeError(f"T: expected an int, got {type(T).__name__} {T!r}")
        if not self.min_T <= T <= self.max_T:
            raise ValueError(f"T: task {self.name!r} needs {self.min_T} <= T <= {self.max_T}, got {T}")
        self.T = int(T)

    # -- to implement ------------------------------------------------------
    def sample(self, rng: np.random.Generator, batch_size: int) -> Batch:
        raise NotImplementedError

    def baseline(self) -> float:
        """Expected loss of the best memoryless predictor."""
        raise NotImplementedError

    baseline_rule = ""  #: one line: which predictor gives the baseline
    solved_rule = "held-out loss below 1 % of the baseline"  #: when a run counts as solved

    def is_solved(self, final: dict) -> bool:
        """Whether a run's final held-out figures meet :attr:`solved_rule`."""
        return final["loss"] < 0.01 * self.baseline()

    @property
    def max_dependency(self) -> int:
        """Longest delay between an input and the output that needs it (chrono's T_max)."""
        return self.T

    def seq_len(self) -> int:
        """Longest sequence the task generates (padding length of a batch)."""
        return self.T

    def metrics(self, outputs: np.ndarray, batch: Batch) -> dict:
        """Task-specific held-out figures beyond the loss.

        ``outputs`` are the model's raw outputs (logits (T, B, K) or values (B, K)).
        Returns name -> the *sum over the batch's sequences* of a per-sequence
        value; the evaluator divides by the number of sequences, so batches of
        any size combine exactly.
        """
        return {}

    # -- shared --------------------------------------------------------------
    def batch(self, rng: np.random.Generator, batch_size: int) -> Batch:
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size: expected a positive int, got {batch_size!r}")
        return self.sample(rng, int(batch_size))

    def heldout(self, size: int, seed: int, batch_size: int = 256) -> list[Batch]:
        """The fixed held-out set: ``size`` sequences from a stream of their own, in batches."""
        rng = np.random.default_rng([int(seed), _HELDOUT_STREAM])
        out, left = [], int(size)
        while left > 0:
            n = min(batch_size, left)
            out.append(self.heldout_batch(rng, n))
            left -= n
        return out

    def heldout_batch(self, rng: np.random.Generator, batch_size: int) -> Batch:
        """One batch of the held-out set: drawn as training batches are, unless a task stratifies it."""
        return self.batch(rng, batch_size)

    @property
    def feature_size(self) -> int:
        """D the recurrent layer sees (one-hot width for symbols)."""
        return self.n_symbols if self.n_symbols else self.input_size

    def describe(self) -> str:
        return f"{self.name} (T={self.T}): baseline {self.baseline():.6g} - {self.baseline_rule}"


class UnknownTaskError(UnknownNameError):
    """No task is registered under that name."""


def _validate_task(cls, name: str) -> None:
    if cls.readout not in ("every", "last"):
        raise ValueError(f"task {name!r}: readout must be 'every' or 'last', got {cls.readout!r}")
    if cls.loss not in ("xent", "mse"):
        raise ValueError(f"task {name!r}: loss must be 'xent' or 'mse', got {cls.loss!r}")
    cls.name = name


TASKS = Registry("task", Task, TASK_ENTRY_POINT_GROUP, validate=_validate_task, default_name=lambda cls: cls.name,
                 builtins="lstmlab.tasks", error=UnknownTaskError)
_TASKS = TASKS._entries


def register_task(name: str | None = None, *, override: bool = False):
    """Class decorator: register a :class:`Task` subclass under ``name`` (default: its ``name``)."""
    return TASKS.register(name, override=override)


def task_names(pattern: str = "*") -> list[str]:
    """Sorted registered task names matching the glob ``pattern``."""
    return TASKS.names(pattern)


def get_task(name: str) -> type:
    """The task class registered as ``name``; unknown names get close matches."""
    return TASKS.get(name)


def task_options(cls) -> dict:
    """A task class's keyword options (its ``__init__``'s keyword-only parameters) -> their defaults."""
    params = inspect.signature(cls.__init__).parameters
    return {p: v.default for p, v in params.items() if v.kind is inspect.Parameter.KEYWORD_ONLY}


def make_task(name: str, T: int, **options) -> Task:
    """An instance of the task registered as ``name`` at ``T``, with the task's keyword ``options``.

    An option the task does not take raises ValueError naming it and the options the task has.
    """
    cls = get_task(name)
    if options:
        known = list(task_options(cls))
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise ValueError(f"task_options: task {name!r} has no option {', '.join(map(repr, unknown))}; "
                             f"its options: {', '.join(known) if known else 'none'}")
    return cls(T, **options)
