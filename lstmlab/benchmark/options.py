"""What the regularisation options cost: two stacked layers, plain against each option, timed alternately.

    python -m lstmlab.benchmark.options [--variants lstm,gru,peephole] [--sizes anchors] [--threads 1]

Each variant runs forward + backward (float32, training mode, masks drawn
every call) as a 2-layer stack without options and with each option at 0.3
(``dropout``, ``weight_drop``, ``recurrent_dropout`` in both forms; ``zoneout`` on every
state), with ``--layer-norm`` each form of layer norm the variant can take, and
with ``--projection`` a projection of the output state to H/2 units (``proj_size``);
the ratio is the option's time over the plain stack's. With
``--against torch`` the same option around the variant's eager PyTorch cell
(:func:`lstmlab.benchmark.torch_cells.option_cell`, what a PyTorch user
writes for a custom cell) is timed in the same rounds, and for lstm and gru
torch's own ``nn.LSTM`` / ``nn.GRU(num_layers=2, dropout=0.3)``.
"""
from __future__ import annotations

import argparse

import numpy as np

from ..config import set_num_threads
from . import compare, timing, torch_cells

OPTIONS = {"dropout": {"dropout": 0.3}, "weight_drop": {"weight_drop": 0.3},
           "recurrent_dropout": {"recurrent_dropout": 0.3}, "zoneout": {"zoneout": 0.3}}
#: Recurrent dropout in Semeniuta et al.'s form (on the candidate), for the variants that name one.
SEMENIUTA = {"semeniuta_dropout": {"recurrent_dropout": 0.3, "recurrent_dropout_form": "semeniuta"}}
#: Layer norm's forms (``--layer-norm``), timed like the options but with no PyTorch cell beside them.
LAYER_NORM = {f"layer_norm {k}": {"layer_norm": k} for k in ("xh", "xh+cell", "gates")}


def _torch_dropout(variant, T, B, D, H):
    import torch
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[variant]
    m = cls(D, H, num_layers=2, dropout=0.3).train()
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((T, B, D)).astype(np.float32))

    def step():
        y, _ = m(x)
        y.sum().backward()
    return step


def _layer_norm_forms(variant):
    """The layer-norm forms ``variant`` can take (xh+cell needs a memory cell, gates a sum structure)."""
    from ..layernorm import normalise
    from ..registry import get_spec
    forms = {}
    for k, kw in LAYER_NORM.items():
        try:
            normalise(get_spec(variant), kw["layer_norm"])
        except ValueError:
            continue
        forms[k] = kw
    return forms


def _has_candidate(variant) -> bool:
    from ..candidate_dropout import masked
    from ..registry import get_spec
    try:
        masked(get_spec(variant))
    except ValueError:
        return False
    return True


def _projects(variant) -> bool:
    from ..projection import check
    from ..registry import get_spec
    spec = get_spec(variant)
    try:
        check(spec, 1, 2, (0.0,) * len(spec.state), 0.0)
    except ValueError:
        return False
    return True


def _torch_lstmp(T, B, D, H):
    import torch
    m = torch.nn.LSTM(D, H, num_layers=2, proj_size=max(1, H // 2)).train()
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((T, B, D)).astype(np.float32))

    def step():
        y, _ = m(x)
        y.sum().backward()
    return step


def run(variants, sizes, repeats=7, against="torch", echo=print, layer_norm=False, projection=False):
    rows = []
    for v in variants:
        opts = dict(OPTIONS, **(SEMENIUTA if _has_candidate(v) else {}),
                    **(_layer_norm_forms(v) if layer_norm else {}))
        for size in sizes:
            cases = {"plain": timing.lstmlab_step(v, *size, num_layers=2)}
            cases.update({k: timing.lstmlab_step(v, *size, num_layers=2, **kw) for k, kw in opts.items()})
            shown = list(opts)
            if projection and _projects(v) and size[3] >= 2:
                cases["proj_size H/2"] = timing.lstmlab_step(v, *size, num_layers=2, proj_size=size[3] // 2)
                shown.append("proj_size H/2")
                if against == "torch" and v == "lstm":
                    cases["torch.nn.LSTM proj_size H/2"] = _torch_lstmp(*size)
            if against == "torch":
                cases.update({f"torch cell {k}": torch_cells.option_cell(v, k, *size) for k in OPTIONS})
                if v in ("lstm", "gru"):
                    cases[f"torch.nn.{v.upper()} dropout"] = _torch_dropout(v, *size)
            med = timing.alternate(cases, repeats, budget_s=30.0)
            ms = {k: t * 1e3 for k, t in med.items()}
            rows.append((v, size, ms))
            echo(f"{v:9s} {size}: " + ", ".join(f"{k} {t:.2f} ms" for k, t in ms.items())
                 + "; " + ", ".join(f"{k} {ms[k] / ms['plain']:.3f}x plain" for k in shown)
                 + "".join(f"; torch cell {k} / {k} {ms[f'torch cell {k}'] / ms[k]:.1f}x" for k in OPTIONS
                           if f"torch cell {k}" in ms)
                 + ("; torch.nn.LSTM proj_size H/2 / proj_size H/2 "
                    f"{ms['torch.nn.LSTM proj_size H/2'] / ms['proj_size H/2']:.1f}x"
                    if "torch.nn.LSTM proj_size H/2" in ms else ""))
    return rows


def markdown(rows, threads: int, command: str) -> str:
    """The rows of :func:`run` as a Markdown table: each option's time over the plain stack's, and the same
    option around the PyTorch custom cell over lstmlab's."""
    lines = [f"Command: `{command}`  ",
             f"Two stacked layers, float32, {threads} thread(s), training mode (masks drawn every call), forward "
             "+ backward, medians of alternating turns; each option ÷ the plain stack, then the torch custom "
             "cell's time ÷ lstmlab's for the same option.", "",
             "| variant | T, B, D, H | plain ms | option ÷ plain | torch cell ÷ lstmlab |", "|---|---|---|---|---|"]
    for v, size, ms in rows:
        opts = [k for k in ms if k != "plain" and not k.startswith("torch")]
        ratio = "; ".join(f"{k} {ms[k] / ms['plain']:.2f}x" for k in opts)
        cells = "; ".join(f"{k} {ms[f'torch cell {k}'] / ms[k]:.1f}x" for k in opts if f"torch cell {k}" in ms)
        lines.append(f"| {v} | {', '.join(map(str, size))} | {ms['plain']:.2f} | {ratio} | {cells or '-'} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m lstmlab.benchmark.options", description=__doc__.splitlines()[0])
    ap.add_argument("--variants", default="lstm,gru,peephole")
    ap.add_argument("--sizes", default="anchors")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--against", choices=("torch", "none"), default="torch")
    ap.add_argument("--layer-norm", action="store_true", help="also time each layer-norm form the variant takes")
    ap.add_argument("--projection", action="store_true",
                    help="also time a projection to H/2 units (proj_size), for the variants that take one")
    args = ap.parse_args(argv)
    set_num_threads(args.threads)
    if args.against == "torch":
        import torch
        torch.set_num_threads(args.threads)
    run(compare.parse_variants(args.variants), compare.parse_sizes(args.sizes), args.repeats, args.against,
        layer_norm=args.layer_norm, projection=args.projection)


if __name__ == "__main__":
    main()
