"""The configuration of a training run: every choice that changes its numbers.

A run directory stores it (``config.json``); resuming checks that the stored
and the requested configurations agree, field by field.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field

import numpy as np

from ..init import SCHEMES, resolve_recurrent_init
from ..registry import get_spec
from ..tasks import get_task, make_task
from .optim import CLIP_MODES, OPTIMIZERS, SCHEDULES

LIMITS = {"T": (1, 1_000_000), "batch_size": (1, 100_000), "steps": (1, 1_000_000_000),
          "hidden": (1, 65_536), "layers": (1, 64)}
LR_RANGE = (0.0, 100.0)


@dataclass
class TrainConfig:
    """One training run. Defaults follow Arjovsky et al. (2016): RMSProp 1e-3, decay 0.9, clip 1, batch 20."""

    task: str = "adding"
    T: int = 100
    variant: str = "lstm"
    hidden: int = 128
    layers: int = 1
    optimizer: str = "rmsprop"
    lr: float = 1e-3
    momentum: float = 0.9           # sgd
    nesterov: bool = False          # sgd
    decay: float = 0.9              # rmsprop
    beta1: float = 0.9              # adam
    beta2: float = 0.999            # adam
    eps: float = 1e-8               # rmsprop, adam
    clip: float | None = 1.0        # gradient clipping bound; None: no clipping
    clip_mode: str = "norm"         # "norm": the global norm (Pascanu et al. 2013); "value": each entry
    schedule: str = "constant"
    warmup: int = 0
    batch_size: int = 20
    steps: int = 1000
    seed: int = 0
    init: str = "default"           # default (forget bias), chrono, torch
    forget_bias: float | None = None
    t_max: float | None = None      # chrono's T_max; None: the task's longest dependency
    recurrent_init: str | None = None   # default, orthogonal, identity; None: the variant's own
    recurrent_gain: float = 1.0         # scale of recurrent_init="identity"
    dtype: str = "float32"
    dropout: float = 0.0            # non-recurrent connections: between layers and before the readout (Zaremba 2014)
    weight_drop: float = 0.0        # DropConnect on the recurrent matrices, one mask per step (Merity et al. 2018)
    recurrent_dropout: float = 0.0  # on the recurrent matrices' inputs, one mask per sequence (Gal & Ghahramani 2016)
    recurrent_dropout_form: str = "variational"  # or "semeniuta": on the candidate, per step (Semeniuta et al. 2016)
    zoneout: float | dict = 0.0     # zoneout on every state, or {state: p} (Krueger et al. 2017)
    layer_norm: str | None = None   # "xh", "xh+cell" or "gates" (lstmlab.layernorm); None: none
    proj_size: int = 0              # projection of the output state (LSTMP, lstmlab.projection); 0: none
    eval_every: int = 100
    eval_size: int = 1000
    log_every: int = 10
    checkpoint_every: int = 100
    on_nonfinite: str = "stop"      # "stop" or "skip" (skip the update, count it)
    task_options: dict = field(default_factory=dict)  # keyword options of the task (e.g. agreement's objective)
    extra: dict = field(default_factory=dict)  # free-form labels (e.g. the reproduction's name)

    def validate(self) -> "TrainConfig":
        """Check every field; raise ValueError naming the field, what was expected and what was given."""
        for f in dataclasses.fields(self):  # numpy scalars become Python numbers (the config is stored as JSON)
            v = getattr(self, f.name)
            if isinstance(v, np.bool_):
                setattr(self, f.name, bool(v))
            elif isinstance(v, np.integer):
                setattr(self, f.name, int(v))
            elif isinstance(v, np.floating):
                setattr(self, f.name, float(v))
        if not isinstance(self.nesterov, bool):
            raise ValueError(f"nesterov: expected True or False, got {self.nesterov!r}")
        for name in ("momentum", "decay", "beta1", "beta2", "eps", "recurrent_gain"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)):
                raise ValueError(f"{name}: expected a finite number, got {v!r}")
        get_task(self.task)     # UnknownTaskError with suggestions
        if not isinstance(self.variant, str):  # a config is stored as JSON and re-read in other processes
            what = getattr(self.variant, "__name__", type(self.variant).__name__)
            raise TypeError(f"variant: expected a registered variant's name, got {what!r}; register the class "
                            f"first (lstmlab.register(cls, name=...)) and pass the name")
        spec = get_spec(self.variant)  # UnknownVariantError with suggestions
        for name, (lo, hi) in LIMITS.items():
            _int_in(name, getattr(self, name), lo, hi)
        task_cls = get_task(self.task)
        if not task_cls.min_T <= self.T <= task_cls.max_T:
            raise ValueError(f"T: task {self.task!r} needs {task_cls.min_T} <= T <= {task_cls.max_T}, "
                             f"got {self.T}")
        self.make_task()  # task_options checked by the task itself
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and LR_RANGE[0] < self.lr
                <= LR_RANGE[1]):
            raise ValueError(f"lr: expected a finite learning rate in ({LR_RANGE[0]}, {LR_RANGE[1]}], got {self.lr!r}")
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("schedule", self.schedule, SCHEDULES)
        _choice("clip_mode", self.clip_mode, CLIP_MODES)
        _choice("init", self.init, SCHEMES)
        resolve_recurrent_init(spec, self.recurrent_init, recurrent_gain=self.recurrent_gain)
        _choice("dtype", self.dtype, ("float32", "float64"))
        from ..regularise import check_probability
        check_probability("dropout", self.dropout, spec.name)
        from ..regularise import check_recurrent, check_zoneout, describe_zoneout
        for name in ("weight_drop", "recurrent_dropout"):
            check_recurrent(spec, name, getattr(self, name))
        self.zoneout = describe_zoneout(spec, check_zoneout(spec, self.zoneout))  # one spelling per setting
        from ..layernorm import normalise
        normalise(spec, self.layer_norm)  # an unknown kind, or one this variant cannot take: ValueError
        from ..candidate_dropout import check_form, masked
        if check_form(self.recurrent_dropout_form) == "semeniuta":
            masked(normalise(spec, self.layer_norm))  # a variant without a candidate: ValueError
        from ..projection import check as check_projection
        check_projection(normalise(spec, self.layer_norm), self.proj_size, self.hidden,
                         check_zoneout(spec, self.zoneout),
                         self.recurrent_dropout if self.recurrent_dropout_form == "variational" else 0.0)
        _choice("on_nonfinite", self.on_nonfinite, ("stop", "skip"))
        if self.clip is not None and not (isinstance(self.clip, (int, float)) and self.clip > 0
                                          and math.isfinite(self.clip)):
            raise ValueError(f"clip: expected a positive gradient-norm bound or None, got {self.clip!r}")
        _int_in("warmup", self.warmup, 0, max(self.steps - 1, 0))
        _int_in("seed", self.seed, 0, 2**63 - 1)
        for name in ("eval_every", "eval_size", "log_every", "checkpoint_every"):
            _int_in(name, getattr(self, name), 1, 1_000_000_000)
        if self.init == "chrono" and self.t_max is not None and not (math.isfinite(self.t_max) and self.t_max > 2):
            raise ValueError(f"t_max: chrono needs a finite t_max > 2, got {self.t_max!r}")
        if self.t_max is not None and self.init != "chrono":
            raise ValueError(f"t_max: only init='chrono' uses it, got t_max={self.t_max!r} with init={self.init!r}")
        if self.forget_bias is not None and not (isinstance(self.forget_bias, (int, float))
                                                 and math.isfinite(self.forget_bias)):
            raise ValueError(f"forget_bias: expected a finite number or None, got {self.forget_bias!r}")
        self.make_optimizer()   # range checks of the optimiser's own options
        try:
            json.dumps(self.to_dict())
        except (TypeError, ValueError) as exc:
            raise ValueError(f"extra: every value must be JSON-serialisable (the config is stored as JSON): "
                             f"{exc}") from None
        from ..memory import check_fits, run_bytes
        est = run_bytes(self)
        check_fits(f"the run (hidden={self.hidden}, layers={self.layers}, batch_size={self.batch_size}, "
                   f"T={self.T})", est["total"], est, advice="use a smaller hidden size, batch or T")
        return self

    def make_task(self):
        """The task this run trains on: ``make_task(task, T, **task_options)``."""
        if not isinstance(self.task_options, dict) or not all(isinstance(k, str) for k in self.task_options):
            raise ValueError(f"task_options: expected a dict of option name -> value, got {self.task_options!r}")
        return make_task(self.task, self.T, **self.task_options)

    def make_optimizer(self):
        from .optim import make_optimizer
        opts = {"sgd": dict(momentum=self.momentum, nesterov=self.nesterov),
                "rmsprop": dict(decay=self.decay, eps=self.eps),
                "adam": dict(beta1=self.beta1, beta2=self.beta2, eps=self.eps)}[self.optimizer]
        return make_optimizer(self.optimizer, **opts)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"config: unknown fields {unknown}; known: {sorted(names)}")
        return cls(**d)

    def differences(self, other: "TrainConfig") -> dict:
        """field -> (this, other) for every field that differs."""
        a, b = self.to_dict(), other.to_dict()
        return {k: (a[k], b[k]) for k in a if a[k] != b[k]}


def _int_in(name, value, lo, hi):
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{name}: expected an int, got {type(value).__name__} {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name}: expected {lo} <= {name} <= {hi}, got {value}")


def _choice(name, value, options):
    if value not in options:
        raise ValueError(f"{name}: expected one of {sorted(options)}, got {value!r}")
