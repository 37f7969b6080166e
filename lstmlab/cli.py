"""The ``lstmlab`` command: ``train``, ``variants``, ``tasks``, ``repro``.

Every sub-command's ``--help`` describes it fully; errors in arguments name
the argument, what was expected and what was given, and exit with status 2.
"""
from __future__ import annotations

import argparse
import logging
import re
import sys
import time
from pathlib import Path

from .argtypes import number, option, positive_int, positive_number, probabilities
from .candidate_dropout import FORMS
from .layernorm import KINDS

_EPILOG_TRAIN = """\
examples:
  lstmlab train --task adding -T 100 --variant lstm --steps 2000 --out runs/adding100
  lstmlab train --task copy -T 200 --variant cifg --init chrono --out runs/copy200
  lstmlab train --out runs/copy200 --task copy -T 200 --variant cifg --init chrono --resume

files written in --out: config.json (configuration and library versions),
metrics.jsonl (training and held-out records), checkpoint.lstmlab (parameters,
optimiser and random-generator state; written atomically every
--checkpoint-every steps and at the end), result.json (final figures).
--resume continues an interrupted run to bit-identical parameters; --resume with a
larger --steps extends a run (constant learning rate: the same parameters as a
run configured for the larger total from the start).
"""


def _clip(text):
    if text.lower() in ("none", "off", "0"):
        return None
    return number(text)


def _add_train(sub):
    from .training.config import TrainConfig
    d = TrainConfig()
    p = sub.add_parser("train", help="train a variant on a task, with checkpoints and resume",
                       description="Train one gated recurrent variant on one long-dependency task. Shows a "
                                   "progress bar (loss, baseline, steps per second), evaluates on a fixed "
                                   "held-out set, logs metrics as JSON lines and checkpoints atomically.",
                       epilog=_EPILOG_TRAIN, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("task and model")
    g.add_argument("--task", default=d.task, help=f"task name, see `lstmlab tasks` (default {d.task})")
    g.add_argument("-T", "--T", dest="T", type=positive_int, default=d.T,
                   help=f"delay / sequence length parameter of the task (default {d.T})")
    g.add_argument("--variant", default=d.variant, help=f"variant name, see `lstmlab variants` (default {d.variant})")
    g.add_argument("--task-option", dest="task_options", type=option, action="append", default=[],
                   metavar="NAME=VALUE", help="a keyword option of the task, repeatable (e.g. objective=number "
                                              "for agreement; see `lstmlab tasks`)")
    g.add_argument("--hidden", type=positive_int, default=d.hidden, help=f"hidden units H (default {d.hidden})")
    g.add_argument("--layers", type=positive_int, default=d.layers, help=f"stacked layers (default {d.layers})")
    g.add_argument("--init", choices=("default", "chrono", "torch"), default=d.init,
                   help="default: uniform +-1/sqrt(H) with the forget bias set (--forget-bias, default 1); "
                        "chrono: Tallec & Ollivier 2018 with T_max = the task's longest delay (or --t-max); "
                        "torch: PyTorch's scheme")
    g.add_argument("--forget-bias", type=number, default=None, help="forget-gate bias for --init default")
    g.add_argument("--t-max", type=number, default=None, help="T_max for --init chrono")
    g.add_argument("--recurrent-init", choices=("default", "orthogonal", "identity"), default=None,
                   help="recurrent weights, with any --init: orthogonal blocks, or the identity (non-gated "
                        "cells only: rnn, irnn, indrnn); default: the variant's own (identity for irnn)")
    g.add_argument("--recurrent-gain", type=number, default=d.recurrent_gain,
                   help="scale of --recurrent-init identity (default 1)")
    g.add_argument("--dtype", choices=("float32", "float64"), default=d.dtype)
    g = p.add_argument_group("regularisation (training steps only; evaluation runs the deterministic cell)")
    g.add_argument("--dropout", type=number, default=d.dropout,
                   help="dropout in [0, 1) on the non-recurrent connections: between stacked layers and on the "
                        "top layer's output before the readout (Zaremba et al. 2014; default 0)")
    g.add_argument("--weight-drop", type=number, default=d.weight_drop,
                   help="DropConnect in [0, 1) on the recurrent matrices, one mask per step (the weight-dropped "
                        "LSTM of Merity et al. 2018; default 0)")
    g.add_argument("--recurrent-dropout", type=number, default=d.recurrent_dropout,
                   help="variational dropout in [0, 1) on the recurrent matrices' inputs, one mask per sequence "
                        "(Gal & Ghahramani 2016; default 0)")
    g.add_argument("--zoneout", type=probabilities, default=d.zoneout, metavar="P|STATE=P,...",
                   help="zoneout in [0, 1) on every state, or per state as c=0.5,h=0.05 (Krueger et al. 2017; "
                        "evaluation uses its expectation; default 0)")
    g.add_argument("--layer-norm", choices=KINDS, default=d.layer_norm,
                   help="layer normalisation inside the cell: the input and recurrent pre-activations "
                        "separately (xh; Ba et al. 2016's eq. 20 alone), also the cell before the output activation "
                        "(xh+cell; Ba et al.'s eq. 22, haste), or each gate on its own (gates; TensorFlow "
                        "contrib); default none")
    g.add_argument("--recurrent-dropout-form", choices=FORMS, default=d.recurrent_dropout_form,
                   help="what --recurrent-dropout drops: each recurrent matrix's input, one mask per sequence "
                        "(variational, Gal & Ghahramani 2016; the default), or only the candidate (the LSTM's g), "
                        "a mask per step (semeniuta: Semeniuta et al. 2016, recurrent dropout without memory loss)")
    g.add_argument("--proj-size", type=int, default=d.proj_size, metavar="P",
                   help="project the output state to P < hidden units (LSTMP, Sak et al. 2014, as "
                        "torch.nn.LSTM(proj_size=P)); variants that read it only through their recurrent "
                        "matrices; default 0, none")
    g = p.add_argument_group("optimisation")
    g.add_argument("--optimizer", choices=("sgd", "rmsprop", "adam"), default=d.optimizer,
                   help=f"(default {d.optimizer})")
    g.add_argument("--lr", type=number, default=d.lr, help=f"learning rate in (0, 100] (default {d.lr})")
    g.add_argument("--momentum", type=number, default=d.momentum, help="SGD momentum (default 0.9)")
    g.add_argument("--nesterov", action="store_true", help="SGD with Nesterov momentum")
    g.add_argument("--decay", type=number, default=d.decay, help="RMSProp decay rho (default 0.9)")
    g.add_argument("--beta1", type=number, default=d.beta1, help="Adam beta1 (default 0.9)")
    g.add_argument("--beta2", type=number, default=d.beta2, help="Adam beta2 (default 0.999)")
    g.add_argument("--eps", type=number, default=d.eps, help="RMSProp / Adam epsilon (default 1e-8)")
    g.add_argument("--clip", type=_clip, default=d.clip,
                   help="clip gradients at this value (see --clip-mode); 'none' disables (default 1)")
    g.add_argument("--clip-mode", choices=("norm", "value"), default=d.clip_mode,
                   help="norm: scale the global gradient norm down to --clip (default); value: clip each "
                        "entry to [-clip, clip]")
    g.add_argument("--schedule", choices=("constant", "cosine", "linear"), default=d.schedule,
                   help="learning-rate schedule after --warmup steps of linear warm-up (default constant)")
    g.add_argument("--warmup", type=int, default=d.warmup, help="warm-up steps (default 0)")
    g.add_argument("--batch-size", type=positive_int, default=d.batch_size, help=f"(default {d.batch_size})")
    g.add_argument("--steps", type=positive_int, default=d.steps, help=f"updates to make (default {d.steps})")
    g.add_argument("--seed", type=int, default=d.seed, help="seeds initialisation, batches and held-out set")
    g.add_argument("--on-nonfinite", choices=("stop", "skip"), default=d.on_nonfinite,
                   help="stop: a NaN/Inf loss or gradient ends the run with an error naming the step and "
                        "tensor, the last checkpoint intact (default); skip: drop that update, count it in "
                        "the metrics, and go on")
    g = p.add_argument_group("records")
    g.add_argument("--out", default=None, help="run directory (default runs/TASK-T-VARIANT-sSEED)")
    g.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    g.add_argument("--dry-run", action="store_true",
                   help="print the run's memory estimate (and the memory available), write nothing")
    g.add_argument("--eval-every", type=positive_int, default=d.eval_every, help=f"(default {d.eval_every})")
    g.add_argument("--eval-size", type=positive_int, default=d.eval_size,
                   help=f"held-out sequences (default {d.eval_size})")
    g.add_argument("--log-every", type=positive_int, default=d.log_every, help=f"(default {d.log_every})")
    g.add_argument("--checkpoint-every", type=positive_int, default=d.checkpoint_every,
                   help=f"(default {d.checkpoint_every})")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train)


def _cmd_train(args) -> int:
    from .training import TrainConfig, train
    cfg = TrainConfig(task=args.task, T=args.T, variant=args.variant, hidden=args.hidden, layers=args.layers,
                      optimizer=args.optimizer, lr=args.lr, momentum=args.momentum, nesterov=args.nesterov,
                      decay=args.decay, beta1=args.beta1, beta2=args.beta2, eps=args.eps, clip=args.clip,
                      clip_mode=args.clip_mode,
                      schedule=args.schedule, warmup=args.warmup, batch_size=args.batch_size, steps=args.steps,
                      seed=args.seed, init=args.init, forget_bias=args.forget_bias, t_max=args.t_max,
                      recurrent_init=args.recurrent_init, recurrent_gain=args.recurrent_gain,
                      dtype=args.dtype, dropout=args.dropout, weight_drop=args.weight_drop,
                      recurrent_dropout=args.recurrent_dropout, zoneout=args.zoneout,
                      layer_norm=args.layer_norm, proj_size=args.proj_size,
                      recurrent_dropout_form=args.recurrent_dropout_form, eval_every=args.eval_every,
                      eval_size=args.eval_size,
                      log_every=args.log_every, checkpoint_every=args.checkpoint_every,
                      on_nonfinite=args.on_nonfinite, task_options=dict(args.task_options))
    if args.dry_run:
        from .memory import available_bytes, fmt, run_bytes
        cfg.validate()  # refuses (with the estimate) a run that does not fit
        est = run_bytes(cfg)
        have = available_bytes()
        print(f"memory estimate: {fmt(est['total'])} (" + ", ".join(f"{k} {fmt(v)}" for k, v in est.items()
                                                              if k != "total")
              + f"); available: {fmt(have) if have is not None else 'unknown'}")
        return 0
    cfg.validate()
    if args.out is not None and not args.out.strip():
        raise ValueError("--out: expected a folder path, got an empty string")
    out = args.out or f"runs/{cfg.task}-T{cfg.T}-{cfg.variant}-s{cfg.seed}"
    if args.resume:
        from .training.records import CHECKPOINT, RESULT
        if not (Path(out) / CHECKPOINT).exists() and not (Path(out) / RESULT).exists():
            what = "does not exist" if not Path(out).exists() else "holds no checkpoint to resume from"
            raise ValueError(f"--resume: {out} {what}; run without --resume to start a run there"
                             + (" (remove the folder first if it holds an unstarted run's config)"
                                if Path(out).exists() else ""))
    t0 = time.perf_counter()
    res = train(cfg, out, resume=args.resume, progress=not args.no_progress)
    wall = time.perf_counter() - t0
    f = res.final
    extra = "".join(f", {k} {v:.4g}" for k, v in f.items() if k not in ("loss", "baseline"))
    if res.already_complete:
        print(f"{out}: already complete (nothing to do); ", end="")
    else:
        print(f"{out}: wall {wall:.1f} s; ", end="")
    print(f"{res.step} steps, {res.steps_per_second:.1f} steps/s (training only); "
          f"held-out loss {f['loss']:.4g} vs baseline {f['baseline']:.4g} "
          f"({f['loss'] / f['baseline']:.3g}x){extra}" + (f"; {res.skipped} steps skipped" if res.skipped else ""))
    return 0


def _add_variants(sub):
    p = sub.add_parser("variants", help="list the registered variants and their references",
                       description="List the registered gate variants (built-in and from plugins in the "
                                   "'lstmlab.variants' entry-point group) with their papers.")
    p.add_argument("pattern", nargs="?", default="*", help="glob filter on names, e.g. 'n*' (default: all)")
    p.set_defaults(func=_cmd_variants)


def _cmd_variants(args) -> int:
    import lstmlab
    names = lstmlab.names(args.pattern)
    if not names:
        print(f"no variant matches {args.pattern!r}; registered: {', '.join(lstmlab.names())}", file=sys.stderr)
        return 1
    w = max(map(len, names))
    no_matrix = []
    for n in names:
        cls = lstmlab.get(n)
        spec = lstmlab.get_spec(n)
        if not spec.products:
            no_matrix.append(n)
        print(f"{n:<{w}}  state {','.join(spec.state):<14} {cls.reference or '-'}")
    print("\noptions of every variant (lstmlab.RNN, lstmlab train): dropout (between stacked layers; in training "
          "also before the readout), weight_drop and recurrent_dropout (DropConnect on the recurrent matrices, "
          "variational dropout on their inputs"
          + (f"; not {', '.join(no_matrix)}: no recurrent matrix)" if no_matrix else ")")
          + ", zoneout (on every state, or per state, e.g. c=0.5,h=0.05), layer_norm (xh: the input and "
          "recurrent pre-activations; xh+cell: also the cell, variants with a memory cell; gates: each gate, "
          "variants that read x + a), recurrent_dropout_form semeniuta (on the candidate; variants that "
          "declare one), proj_size (LSTMP: the output state projected, variants that read it only "
          "through their recurrent matrices)")
    return 0


def _add_tasks(sub):
    p = sub.add_parser("tasks", help="list the tasks and their memoryless baselines",
                       description="List the registered tasks (built-in and from plugins in the "
                                   "'lstmlab.tasks' entry-point group), their papers and the loss of the best "
                                   "memoryless predictor at the given T.")
    p.add_argument("-T", "--T", dest="T", type=positive_int, default=100, help="T for the baselines (default 100)")
    p.set_defaults(func=_cmd_tasks)


def _cmd_tasks(args) -> int:
    from .tasks import get_task, task_names
    from .tasks.base import task_options
    for n in task_names():
        cls = get_task(n)
        T = min(max(args.T, cls.min_T), cls.max_T)
        try:
            base = f"{cls(T).baseline():.6g}"
        except ImportError as exc:  # a task whose data needs an extra that is not installed
            base = f"unavailable: {exc}"
        opts = [f"{k}={v!r}" for k, v in task_options(cls).items()]
        print(f"{n}: {cls.description}\n    baseline at T={T}: {base} ({cls.baseline_rule})\n"
              f"    {cls.reference}" + (f"\n    options (--task-option NAME=VALUE): {', '.join(opts)}" if opts else ""))
    return 0


def _add_repro(sub):
    from .repro.registry import reproduction_names
    from .repro.run import add_arguments
    known = ", ".join(reproduction_names())
    p = sub.add_parser("repro", help="re-run a paper's experiment across variants: tables, plots, sweeps",
                       description="Run a paper reproduction (a grid of training runs) on a local process pool "
                                   "or a Dask cluster, then write summary.md, summary.csv, runs.jsonl and PNG "
                                   "plots into the results folder. Re-running the same command skips finished "
                                   "runs and resumes unfinished ones from their checkpoints. NAME is one of "
                                   f"{known} (built-in and from plugins in the 'lstmlab.reproductions' "
                                   "entry-point group; `lstmlab repro --list` gives their papers).",
                       epilog="example: lstmlab repro arjovsky2016 --quick --results results/arjovsky-quick")
    p.add_argument("name", nargs="?", metavar="NAME", help=f"the reproduction to run: {known}")
    p.add_argument("--list", action="store_true", help="list the reproductions and exit")
    add_arguments(p)
    p.set_defaults(func=_cmd_repro)


def _cmd_repro(args) -> int:
    from .repro.registry import available, get_reproduction
    from .repro.run import run
    if args.list or not args.name:
        if not args.list:
            print("lstmlab repro: error: NAME is missing: give one of the reproductions below", file=sys.stderr)
        for name, r in sorted(available().items()):
            print(f"{name}: {r.title}\n    {r.paper}")
        return 0 if args.list else 2
    repro = get_reproduction(args.name)
    return run(repro, args, " ".join(["lstmlab", *sys.argv[1:]]))


def _add_bench(sub):
    p = sub.add_parser("bench", help="time lstmlab against PyTorch (medians, ratios, GFLOP/s vs the GEMM peak)",
                       description="Time forward + backward (float32) of lstmlab variants and their PyTorch "
                                   "baselines in one process, alternating them, at each thread count: "
                                   "torch.nn.LSTM / nn.GRU, the same cell written per step in PyTorch (eager; "
                                   "torch.compile with --compile) and, for peephole, torch.jit.script. The SGEMM "
                                   "peak is measured in the same run. Compilation never enters a timing.",
                       epilog="example: lstmlab bench --against torch --variants lstm,gru --sizes quick "
                              "--threads 1,2 --markdown bench.md")
    p.add_argument("--against", choices=("torch", "none"), default="torch",
                   help="baselines to time (default torch; 'none' times lstmlab alone)")
    p.add_argument("--variants", default="lstm,gru,peephole",
                   help="comma-separated names or globs (default lstm,gru,peephole; '*' for all)")
    p.add_argument("--sizes", default="anchors",
                   help="'T,B,D,H' groups separated by ';', or anchors (the tracked sizes), quick, fastrnns "
                        "(default anchors)")
    p.add_argument("--threads", default="1,2", help="thread counts, comma-separated (default 1,2)")
    p.add_argument("--compile", action="store_true", help="also time torch.compile cells (slow to compile)")
    p.add_argument("--repeats", type=positive_int, default=7, help="rounds per size (default 7)")
    p.add_argument("--budget", type=positive_number, default=30.0, help="stop a size after this many seconds "
                   "(at least 3 rounds; default 30)")
    p.add_argument("--stream", action="store_true", help="time one streaming step at B = 1 (layer.stream().step) "
                   "against torch's cell and module called per step, for H in --hidden")
    p.add_argument("--hidden", default="8,32,128", help="with --stream: hidden sizes (default 8,32,128)")
    p.add_argument("--options", action="store_true", help="time what the options cost instead: two stacked "
                   "layers, plain against dropout, weight drop, recurrent dropout (both forms), zoneout, each "
                   "layer-norm form and a projection to H/2 that the variant takes, and the same regularisers "
                   "around the variant's PyTorch custom cell")
    p.add_argument("--markdown", metavar="FILE", help="also write the table as Markdown to FILE")
    p.set_defaults(func=_cmd_bench)


def _cmd_bench(args) -> int:
    from .benchmark import compare
    from .training.checkpoint import atomic_write_text
    variants = compare.parse_variants(args.variants)
    sizes = compare.parse_sizes(args.sizes)
    threads = compare.parse_threads(args.threads)
    if args.against == "torch":
        try:
            import torch  # noqa: F401
        except ImportError:
            print("lstmlab bench: torch is not installed, so there is nothing to compare against. Install it "
                  "(python3 -m pip install torch) or run with --against none.", file=sys.stderr)
            return 2
    if args.options:
        from .benchmark import options
        from .config import set_num_threads
        text = []
        for n in threads:
            set_num_threads(n)
            if args.against == "torch":
                import torch
                torch.set_num_threads(n)
            rows = options.run(variants, sizes, args.repeats, args.against, layer_norm=True, projection=True)
            text.append(options.markdown(rows, n, " ".join(["lstmlab", *sys.argv[1:]])))
        if args.markdown:
            atomic_write_text(args.markdown, "\n".join(text))
            print(f"wrote {args.markdown}")
        return 0
    if args.stream:
        hiddens = [int(h) for h in args.hidden.split(",") if h.strip()]
        rows = compare.run_stream(variants, hiddens, threads, args.against, args.repeats, args.budget)
        if args.markdown:
            atomic_write_text(args.markdown, compare.stream_markdown(rows, " ".join(["lstmlab", *sys.argv[1:]])))
            print(f"wrote {args.markdown}")
        return 0
    rows, peaks = compare.run(variants, sizes, threads, args.against, args.compile, args.repeats, args.budget)
    if args.markdown:
        atomic_write_text(args.markdown, compare.markdown(rows, peaks, " ".join(["lstmlab", *sys.argv[1:]])))
        print(f"wrote {args.markdown}")
    return 0


def _add_kernels(sub):
    from .kernel_source import PARTS
    p = sub.add_parser("kernels", help="show the code lstmlab generates for a variant (CPU, CUDA, pointwise maths)",
                       description="Print, or write into a folder, the source lstmlab generates and compiles for "
                                   "a variant: the CPU time-loop module (Numba), the CUDA step kernels, the CUDA "
                                   "persistent kernels and the pointwise maths (handwritten or derived by sympy, "
                                   "with what each argument reads). Generating it compiles nothing and needs no GPU.",
                       epilog="example: lstmlab kernels gru --part cpu --part maths")
    p.add_argument("name", help="a registered variant (lstmlab variants)")
    p.add_argument("--part", action="append", choices=PARTS,
                   help="what to show (repeatable; default all)")
    p.add_argument("--out", metavar="DIR", help="write NAME_<part>.py files into DIR instead of printing")
    p.set_defaults(func=_cmd_kernels)


def _cmd_kernels(args) -> int:
    from .kernel_source import PARTS, kernel_source, write_kernel_source
    parts = tuple(args.part) if args.part else PARTS
    if args.out:
        for path in write_kernel_source(args.name, args.out, parts):
            print(f"wrote {path}")
        return 0
    for part, text in kernel_source(args.name, parts).items():
        print(f"# ===== {args.name}: {part} =====")
        print(text)
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse takes only -1 and -.5 as negative numbers; here -1e-3 and -1,2,3,4 are values too, so they
    reach the option's own check (every option of lstmlab starts with a letter after the dashes)."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self._negative_number_matcher = re.compile(r"^-(\d|\.\d)[\d.,;eE+-]*$")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    ap = _Parser(prog="lstmlab", description="lstmlab: gated recurrent variants compiled with "
                                 "Numba - train them on long-dependency tasks and compare them.")
    ap.add_argument("--version", action="version", version=f"lstmlab {__version__}")
    ap.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    _add_train(sub)
    _add_variants(sub)
    _add_tasks(sub)
    _add_repro(sub)
    _add_bench(sub)
    _add_kernels(sub)
    return ap


def main(argv=None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    if not getattr(args, "func", None):
        ap.print_help()
        return 2
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    from .registry import UnknownNameError  # unknown variant, task or reproduction
    from .training import CheckpointError, NonFiniteError, ResumeError, RunExistsError
    from .training.checkpoint import StorageError  # a path that cannot be written: says which and why
    from .variant import VariantError
    try:
        return args.func(args)
    except (UnknownNameError, VariantError, ValueError, RunExistsError, ConnectionError, ImportError,
            StorageError, MemoryError) as exc:
        # The user's input or set-up. CheckpointError and ResumeError are ValueErrors. Any other
        # exception (a TypeError or KeyError inside lstmlab, say) is a bug: its traceback is shown.
        kind = {CheckpointError: "checkpoint", ResumeError: "resume"}.get(type(exc), "error")
        print(f"lstmlab {args.command}: {kind}: {exc}", file=sys.stderr)
        return 2
    except NonFiniteError as exc:
        print(f"lstmlab {args.command}: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print(f"lstmlab {args.command}: interrupted; resume with --resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
