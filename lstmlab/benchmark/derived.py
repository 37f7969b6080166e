"""Derived against handwritten backward: the same variant, timed alternately.

    python -m lstmlab.benchmark.derived [--variants lstm,gru,peephole] [--sizes quick] [--threads 1]

For each variant, ``<name>`` (handwritten backward) and a subclass with
``derive_backward = True`` (backward derived by :mod:`lstmlab.derive`) run
forward + backward on the same data; the ratio is derived / handwritten time.
"""
from __future__ import annotations

import argparse

from ..config import set_num_threads
from ..registry import get, register, unregister
from . import compare, timing


def derived_name(variant: str) -> str:
    """Register (once) and return the name of ``variant`` with a derived backward."""
    name = f"{variant}__derived"
    base = get(variant)
    try:
        get(name)
    except Exception:  # noqa: BLE001 - not registered yet
        register(type(base.__name__ + "Derived", (base,), {"derive_backward": True}), name=name)
    return name


def run(variants, sizes, repeats=9, echo=print):
    rows = []
    for v in variants:
        d = derived_name(v)
        try:
            for size in sizes:
                med = timing.alternate({"handwritten": timing.lstmlab_step(v, *size),
                                        "derived": timing.lstmlab_step(d, *size)}, repeats)
                rows.append((v, size, med["handwritten"] * 1e3, med["derived"] * 1e3))
                echo(f"{v:9s} {size}: handwritten {med['handwritten'] * 1e3:.2f} ms, derived "
                     f"{med['derived'] * 1e3:.2f} ms, ratio {med['derived'] / med['handwritten']:.3f}")
        finally:
            unregister(d)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m lstmlab.benchmark.derived", description=__doc__.splitlines()[0])
    ap.add_argument("--variants", default="lstm,gru,peephole")
    ap.add_argument("--sizes", default="100,32,1,128;100,32,128,256")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=9)
    args = ap.parse_args(argv)
    set_num_threads(args.threads)
    run(compare.parse_variants(args.variants), compare.parse_sizes(args.sizes), args.repeats)


if __name__ == "__main__":
    main()
