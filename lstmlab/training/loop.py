"""The training loop: seeded, checkpointed, resumable, honest about non-finite values.

Determinism: three independent random streams come from the seed - model
initialisation ``[seed, 1]``, training batches ``[seed, 0]`` and the held-out
set (the task's own stream). A checkpoint holds the parameters, the optimiser
state, the batch stream's state, the step and the logging accumulators, so a
run killed at any moment and resumed ends with bit-identical parameters (on
the same machine and thread count: BLAS results depend on both).
"""
from __future__ import annotations

import logging
import math
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import checkpoint as ckpt
from .config import TrainConfig
from .model import SequenceModel
from .optim import CLIP_MODES, global_norm, make_schedule
from .records import (
    CHECKPOINT,
    CONFIG,
    FAILED,
    METRICS,
    RESULT,
    MetricsLog,
    make_folder,  # noqa: I001
    read_json,
    versions,
    write_json,
)

_log = logging.getLogger(__name__)

#: Fields that may change when a run resumes: none of them changes the numbers.
RESUMABLE_CHANGES = frozenset({"on_nonfinite", "checkpoint_every"})


def extension_error(stored, cfg):
    """Why ``stored`` (a run's config) cannot be continued to ``cfg.steps``; None when it can.

    A run is extended by resuming it with more steps: the optimiser state, the
    data stream and the step counter carry on, so with a constant learning rate
    (a warm-up included) the parameters equal a run configured for the larger
    total from the start, bit for bit. A cosine or linear schedule is defined
    over the total, so a longer total would have used other rates already:
    refused (start a new run). Fewer steps than already configured are refused.
    """
    if cfg.steps < stored.steps:
        return (f"steps: the run is configured for {stored.steps} steps; it can be extended (more steps), "
                f"not shortened to {cfg.steps}")
    if cfg.schedule != "constant":
        return (f"steps: a {cfg.schedule!r} schedule is defined over the run's total of {stored.steps} steps; "
                f"extending it to {cfg.steps} would change the rates it already used. Train a new run with "
                f"--steps {cfg.steps}, or use a constant schedule")
    return None


class NonFiniteError(FloatingPointError):
    """The loss or a gradient became NaN or Inf. ``step`` and ``tensor`` say where."""

    def __init__(self, step: int, tensor: str, detail: str):
        self.step, self.tensor = step, tensor
        super().__init__(f"step {step}: {tensor} is not finite ({detail}); the last good checkpoint is kept. "
                         f"Lower the learning rate, clip gradients, or pass on_nonfinite='skip' "
                         f"(--on-nonfinite skip) to skip such steps")


class RunExistsError(FileExistsError):
    pass


class ResumeError(ValueError):
    pass


@dataclass
class RunResult:
    out_dir: str
    config: dict
    step: int
    final: dict            # held-out figures at the last step: loss, baseline, task metrics
    train_seconds: float   # time in training steps, over all sessions
    steps_per_second: float
    skipped: int
    resumed_from: int      # step the last session started from (0: fresh)
    already_complete: bool = False  # True when train() found the run finished and did nothing

    def to_dict(self) -> dict:
        return dict(vars(self))


def evaluate(model: SequenceModel, heldout) -> dict:
    """Held-out loss and task metrics, averaged over sequences.

    A task metric is a sum over the batch's sequences (averaged over all of
    them here), or a pair ``(sum, count)`` for a figure over a subset (say,
    the sentences with two attractors): summed over batches, then divided.
    """
    n, loss_sum, sums, ratios = 0, 0.0, {}, {}
    for batch in heldout:
        loss, out = model.loss(batch)
        B = batch.size
        n += B
        loss_sum += loss * B
        for k, v in model.task.metrics(out, batch).items():
            if isinstance(v, tuple):
                num, den = ratios.get(k, (0.0, 0))
                ratios[k] = (num + v[0], den + v[1])
            else:
                sums[k] = sums.get(k, 0.0) + v
    out = {"loss": loss_sum / n}
    out.update({k: v / n for k, v in sums.items()})
    out.update({k: num / den for k, (num, den) in ratios.items() if den})
    return out


class _Run:
    """State of one training run between steps (what a checkpoint holds)."""

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        self.task = cfg.make_task()
        self.model = SequenceModel(self.task, cfg.variant, cfg.hidden, cfg.layers, dtype=np.dtype(cfg.dtype),
                                   init=cfg.init, forget_bias=cfg.forget_bias, t_max=cfg.t_max,
                                   recurrent_init=cfg.recurrent_init, recurrent_gain=cfg.recurrent_gain,
                                   rng=np.random.default_rng([cfg.seed, 1]), dropout=cfg.dropout,
                                   weight_drop=cfg.weight_drop, recurrent_dropout=cfg.recurrent_dropout,
                                   zoneout=cfg.zoneout, layer_norm=cfg.layer_norm, proj_size=cfg.proj_size,
                                   recurrent_dropout_form=cfg.recurrent_dropout_form)
        self.opt = cfg.make_optimizer()
        self.opt_state = self.opt.init(self.model.params)
        self.data_rng = np.random.default_rng([cfg.seed, 0])
        self.schedule = make_schedule(cfg.schedule, cfg.lr, cfg.steps, cfg.warmup)
        self.step, self.skipped, self.train_seconds = 0, 0, 0.0
        self.acc = {"loss": 0.0, "grad_norm": 0.0, "n": 0}

    # -- checkpoints ---------------------------------------------------------
    def save(self, path: Path) -> None:
        for k, v in self.model.params.items():
            if not np.isfinite(v).all():
                raise NonFiniteError(self.step, f"parameter {k}", "after the update")
        arrays = {f"param/{k}": v for k, v in self.model.params.items()}
        arrays.update({f"opt/{k}": v for k, v in self.opt_state.items()})
        meta = {"step": self.step, "skipped": self.skipped, "train_seconds": self.train_seconds,
                "acc": self.acc, "data_rng": self.data_rng.bit_generator.state,
                "variant": self.cfg.variant, "config": self.cfg.to_dict(), "versions": versions()}
        ckpt.save(path, arrays, meta)

    def restore(self, path: Path) -> None:
        """Load a checkpoint, all or nothing: every check passes before anything is assigned."""
        arrays, meta = ckpt.load(path)
        try:
            stored = TrainConfig.from_dict(meta["config"])
            step, data_state = int(meta["step"]), meta["data_rng"]
        except (KeyError, TypeError, ValueError) as exc:
            raise ckpt.CheckpointError(f"checkpoint {path}: incomplete metadata ({exc})") from None
        if stored.variant != self.cfg.variant:
            raise ckpt.CheckpointError(f"checkpoint {path}: it is from variant {stored.variant!r}, "
                                       f"this run trains {self.cfg.variant!r}")
        diffs = {k: v for k, v in stored.differences(self.cfg).items() if k not in RESUMABLE_CHANGES}
        if set(diffs) == {"steps"} and extension_error(stored, self.cfg) is None:
            diffs = {}  # an extended run (see extension_error)
        if diffs:
            raise ckpt.CheckpointError(f"checkpoint {path}: written by a run configured differently: "
                                       + ", ".join(f"{k}={a!r} there, {b!r} here" for k, (a, b) in diffs.items()))
        params = {k[6:]: v for k, v in arrays.items() if k.startswith("param/")}
        opt_state = {k[4:]: v for k, v in arrays.items() if k.startswith("opt/")}
        for name, want, got in (("parameters", self.model.params, params), ("optimiser state", self.opt_state,
                                                                           opt_state)):
            missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
            if missing or extra:
                raise ckpt.CheckpointError(f"checkpoint {path}: {name} do not match this model "
                                           f"(missing {missing}, unexpected {extra})")
            for k, v in want.items():
                if got[k].shape != v.shape or got[k].dtype != v.dtype:
                    raise ckpt.CheckpointError(f"checkpoint {path}: {name} {k!r} is {got[k].dtype} {got[k].shape}, "
                                               f"this model needs {v.dtype} {v.shape}")
        rng = np.random.default_rng()
        try:
            rng.bit_generator.state = data_state
        except (TypeError, ValueError, KeyError) as exc:
            raise ckpt.CheckpointError(f"checkpoint {path}: bad random-generator state ({exc})") from None
        # all checks passed: assign
        self.model.load_params(params)
        for k, v in self.opt_state.items():
            v[...] = opt_state[k]
        self.data_rng = rng
        self.step, self.skipped = step, int(meta.get("skipped", 0))
        self.train_seconds = float(meta.get("train_seconds", 0.0))
        self.acc = dict(meta.get("acc", self.acc))

    # -- one update ----------------------------------------------------------
    def update(self) -> dict:
        cfg, step = self.cfg, self.step + 1
        batch = self.task.batch(self.data_rng, cfg.batch_size)
        # the masks of this step follow from the seed and the step alone, so a resumed run draws the same ones
        stochastic = cfg.dropout or cfg.weight_drop or cfg.recurrent_dropout or cfg.zoneout
        masks = np.random.default_rng([cfg.seed, 2, step]) if stochastic else None
        loss, grads = self.model.loss_and_grads(batch, masks)
        bad = None if math.isfinite(loss) else ("loss", f"loss = {loss}")
        if bad is None:
            for k, g in grads.items():
                if not np.isfinite(g).all():
                    bad = (f"gradient of {k}", f"{int((~np.isfinite(g)).sum())} of {g.size} entries NaN/Inf")
                    break
        if bad is not None:
            if cfg.on_nonfinite == "stop":
                raise NonFiniteError(step, *bad)
            _log.warning("step %d: %s is not finite (%s); update skipped", step, *bad)
            self.skipped += 1
            self.step = step
            return {"loss": loss, "skipped": True}
        lr = self.schedule(step - 1)
        norm = CLIP_MODES[cfg.clip_mode](grads, cfg.clip) if cfg.clip is not None else global_norm(grads)
        self.opt.step(self.model.params, grads, self.opt_state, lr)
        self.step = step
        self.acc["loss"] += loss
        self.acc["grad_norm"] += norm
        self.acc["n"] += 1
        return {"loss": loss, "lr": lr, "skipped": False}


def train(config: TrainConfig, out_dir, *, resume: bool = False, progress: bool = True) -> RunResult:
    """Train ``config`` and write its records under ``out_dir``; see :mod:`.records`.

    ``resume=False`` refuses a directory that already holds a run; ``resume=True``
    continues it from its checkpoint (or from the start if none was written),
    after checking that the configuration is the same. A run that had finished
    returns its stored result. Raises :class:`NonFiniteError` on NaN/Inf (unless
    ``on_nonfinite="skip"``), leaving the last good checkpoint in place.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config: expected a TrainConfig, got {type(config).__name__} (TrainConfig(**d) makes "
                        f"one from a dict)")
    if not isinstance(out_dir, (str, Path)) or not str(out_dir):
        raise TypeError(f"out_dir: expected a folder path, got {out_dir!r}")
    cfg = config.validate()
    out = Path(out_dir)
    try:
        out.exists()
    except OSError as exc:  # a name too long, a symlink loop
        raise ckpt.storage_error(out, exc) from exc
    if (out / CONFIG).exists():
        if not resume:
            raise RunExistsError(f"out: {out} already holds a run; resume it (--resume) or choose another "
                                 f"directory")
        stored = TrainConfig.from_dict(read_json(out / CONFIG)["config"])
        diffs = {k: v for k, v in stored.differences(cfg).items() if k not in RESUMABLE_CHANGES}
        if set(diffs) == {"steps"}:
            why = extension_error(stored, cfg)
            if why:
                raise ResumeError(f"out: {out}: {why}")
            _log.info("%s: extending the run from %d to %d steps", out, stored.steps, cfg.steps)
            write_json(out / CONFIG, {"config": cfg.to_dict(), "versions": versions()})
            (out / RESULT).unlink(missing_ok=True)
            diffs = {}
        if diffs:
            raise ResumeError(f"out: {out} holds a run configured differently, so it cannot be resumed with "
                              "this configuration: " + ", ".join(f"{k}={a!r} there, {b!r} here"
                                                                  for k, (a, b) in diffs.items()))
        if (out / RESULT).exists():
            _log.info("%s: run already complete", out)
            stored_result = {k: v for k, v in read_json(out / RESULT).items() if k != "versions"}
            return RunResult(**{**stored_result, "already_complete": True})
    else:
        make_folder(out)
        write_json(out / CONFIG, {"config": cfg.to_dict(), "versions": versions()})
    try:
        ckpt.remove_stale_temporaries(out)
        (out / FAILED).unlink(missing_ok=True)
    except OSError as exc:  # a read-only file system: resuming would not be able to write either
        raise ckpt.storage_error(out, exc) from exc

    run = _Run(cfg)
    if resume and (out / CHECKPOINT).exists():
        run.restore(out / CHECKPOINT)
        _log.info("%s: resuming at step %d of %d", out, run.step, cfg.steps)
    start = run.step
    log = MetricsLog(out / METRICS)
    log.truncate_after(start if start else -1)  # from scratch: drop an earlier session's step-0 evaluation
    heldout = run.task.heldout(cfg.eval_size, cfg.seed)
    baseline = run.task.baseline()
    if start == 0:
        log.append({"kind": "eval", "step": 0, "baseline": baseline, **evaluate(run.model, heldout)})

    bar = _progress(progress, cfg, start)
    last_eval = None
    stop = _CtrlC()
    try:
        stop.__enter__()
        while run.step < cfg.steps:
            t0 = time.perf_counter()
            info = run.update()
            run.train_seconds += time.perf_counter() - t0
            step = run.step
            if step % cfg.log_every == 0 or step == cfg.steps:
                n = max(run.acc["n"], 1)
                log.append({"kind": "train", "step": step, "loss": run.acc["loss"] / n,
                            "grad_norm": run.acc["grad_norm"] / n, "lr": info.get("lr"),
                            "skipped": run.skipped, "train_seconds": run.train_seconds})
                if bar is not None:
                    bar.set_postfix(loss=f"{run.acc['loss'] / n:.4g}", baseline=f"{baseline:.4g}", refresh=False)
                run.acc = {"loss": 0.0, "grad_norm": 0.0, "n": 0}
            if step % cfg.eval_every == 0 or step == cfg.steps:
                last_eval = evaluate(run.model, heldout)
                log.append({"kind": "eval", "step": step, "baseline": baseline, **last_eval})
            if step % cfg.checkpoint_every == 0 or step == cfg.steps or stop.hit:
                run.save(out / CHECKPOINT)
            if stop.hit:  # Ctrl-C: stopped at a step boundary, with a checkpoint of this very step
                raise KeyboardInterrupt
            if bar is not None:
                bar.update(1)
    except NonFiniteError as exc:
        write_json(out / FAILED, {"step": exc.step, "tensor": exc.tensor, "message": str(exc)})
        raise
    finally:
        stop.__exit__()
        if bar is not None:
            bar.close()
    done = cfg.steps - start
    result = RunResult(out_dir=str(out), config=cfg.to_dict(), step=run.step,
                       final={**(last_eval or evaluate(run.model, heldout)), "baseline": baseline},
                       train_seconds=run.train_seconds,
                       steps_per_second=run.step / run.train_seconds if run.train_seconds else float("nan"),
                       skipped=run.skipped, resumed_from=start)
    write_json(out / RESULT, {**result.to_dict(), "versions": versions()})
    _log.info("%s: %d steps (%d this session), held-out loss %.4g (baseline %.4g)", out, run.step, done,
              result.final["loss"], baseline)
    return result


class _CtrlC:
    """While training in the main thread, the first Ctrl-C ends the run after the current step.

    The loop then writes a checkpoint of that step before raising
    KeyboardInterrupt, so ``--resume`` continues from it (an update is never
    cut in half). A second Ctrl-C interrupts at once.
    """

    def __init__(self):
        self.hit, self._old = False, None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.hit:
            raise KeyboardInterrupt
        self.hit = True

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
            self._old = None


def _progress(enabled, cfg, start):
    if not enabled:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=cfg.steps, initial=start, unit="step", dynamic_ncols=True,
                desc=f"{cfg.variant} {cfg.task} T={cfg.T}")
