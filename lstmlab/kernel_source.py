"""What lstmlab compiles for a variant, as text: kernels for each backend and the pointwise maths.

:func:`kernel_source` returns, by name, the generated CPU time-loop module,
the CUDA step kernels, the CUDA persistent kernels and the variant's
pointwise maths (each stage's forward and backward as bound, handwritten or
derived by sympy, with what every argument reads). ``lstmlab kernels NAME``
prints or writes them. Generating the text compiles nothing and needs no GPU.
"""
from __future__ import annotations

import inspect
import textwrap

from . import codegen, emit
from .cuda import codegen as cuda_codegen
from .registry import get_spec

#: What :func:`kernel_source` can return, in this order.
PARTS = ("cpu", "cuda", "cuda-persistent", "maths")
_SUFFIX = {"cpu": "cpu.py", "cuda": "cuda.py", "cuda-persistent": "cuda_persistent.py", "maths": "maths.py"}


def _reads(lay, kind, key, mine, last):
    if kind == "fixed":
        return f"the constant {key!r}"
    if kind == "grad":
        return f"the gradient of output {key!r}"
    src = emit.arg_source(lay, kind, key, mine, last)
    return src if src is not None else "0 (nothing downstream reads it)"


def maths_source(spec) -> str:
    """Each stage's pointwise forward and backward source, with the argument binding as comments."""
    lay = emit.layout(spec)
    out = [f"# Pointwise maths of variant {spec.name!r} ({spec.cls.__module__}.{spec.cls.__qualname__}),",
           "# compiled per unit (bb, j) into every backend's kernels.", ""]
    for st in spec.stages:
        last = st.index == len(spec.stages) - 1
        mine = lay.stage_products(st.index)
        prods = ", ".join(f"{p.name}: {'+'.join(p.source)} -> {'+'.join(p.targets)}" for p in st.products)
        out.append(f"# stage {st.index}: products [{prods}]; outputs {', '.join(st.outputs)}")
        for what, fn, args in (("forward", st.forward, st.fwd_args), ("backward", st.backward, st.bwd_args)):
            out.append(f"# {what} arguments:")
            out += [f"#   {a} = {_reads(lay, kind, key, mine, last)}" for a, kind, key in args]
            derived = getattr(fn, "__lstmlab_source__", None)
            if derived is not None:
                out.append(f"# (derived with sympy: {fn.__name__})")
                src = _function_in(derived, fn.__name__)
            else:
                try:
                    src = textwrap.dedent(inspect.getsource(fn))
                except (OSError, TypeError):
                    src = f"# source of {fn.__qualname__} is not available\n"
            out += [src.rstrip(), ""]
    return "\n".join(out) + "\n"


def _function_in(module_src: str, name: str) -> str:
    """The ``def name(...)`` block of a generated module's source."""
    lines = module_src.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"def {name}("))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("def ")), len(lines))
    return "\n".join(lines[start:end])


def kernel_source(variant, parts=PARTS) -> dict:
    """``{part: source text}`` for a registered variant name or class.

    ``parts``: any of :data:`PARTS` -- "cpu" (the Numba time loops of
    :mod:`lstmlab.codegen`), "cuda" (the step kernels), "cuda-persistent"
    (the one-launch kernels) and "maths" (the pointwise functions).
    """
    if isinstance(parts, str):
        parts = (parts,)
    bad = [p for p in parts if p not in PARTS]
    if bad or not parts:
        raise ValueError(f"parts: expected some of {PARTS}, got {tuple(parts)!r}")
    spec = get_spec(variant)
    make = {"cpu": codegen.module_source, "cuda": cuda_codegen.module_source,
            "cuda-persistent": cuda_codegen.persistent_source, "maths": maths_source}
    return {p: make[p](spec) for p in PARTS if p in parts}


def write_kernel_source(variant, folder, parts=PARTS) -> list:
    """Write :func:`kernel_source` into ``folder`` as ``<name>_<part>.py``; returns the paths."""
    from .training.checkpoint import atomic_write_text
    from .training.records import make_folder
    spec = get_spec(variant)
    folder = make_folder(folder)  # a path that cannot be a folder: StorageError naming it
    paths = []
    for part, text in kernel_source(variant, parts).items():
        path = folder / f"{spec.name}_{_SUFFIX[part]}"
        atomic_write_text(path, text)
        paths.append(path)
    return paths
