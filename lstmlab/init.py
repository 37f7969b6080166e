"""Initialisation schemes for long-dependency work. Seeded and reproducible.

``"default"``
    weights uniform in [-1/sqrt(H), 1/sqrt(H)]; input bias zero except the
    variant's forget block, set to ``forget_bias`` (default: the variant's,
    1.0; Gers et al. 2000, recommended by Jozefowicz, Zaremba & Sutskever 2015).
``"torch"``
    every weight and bias uniform in [-1/sqrt(H), 1/sqrt(H)] (PyTorch's default).
``"chrono"``
    chrono initialisation (Tallec & Ollivier 2018, "Can recurrent neural
    networks warp time?", ICLR, arXiv:1804.11188): forget bias
    b_f = log(u), u ~ U[1, T_max - 1], and b_i = -b_f where the variant has an
    input block. Only the single input bias ``b`` is set (with two bias vectors
    the effective bias would double).

``orthogonal=True`` makes every H x H block of the recurrent matrices orthogonal.
"""
from __future__ import annotations

import math

import numpy as np

SCHEMES = ("default", "torch", "chrono")


def init_params(spec, input_size: int, hidden: int, rng: np.random.Generator, *, dtype=np.float64,
                scheme: str = "default", forget_bias: float | None = None, t_max: float | None = None,
                orthogonal: bool = False) -> dict:
    """Parameters of one direction of one layer, as a dict of arrays."""
    if scheme not in SCHEMES:
        raise ValueError(f"init: expected one of {SCHEMES}, got {scheme!r}")
    if scheme == "chrono":
        if t_max is None or not (isinstance(t_max, (int, float)) and t_max > 2):
            raise ValueError(f"init='chrono' needs t_max > 2 (the longest dependency, e.g. T), got {t_max!r}")
    H = hidden
    bound = 1.0 / math.sqrt(H)
    out = {}
    for name, shape in spec.param_shapes(input_size, hidden).items():
        if name in spec.unit_params or (name.startswith("b") and len(shape) == 1 and scheme != "torch"):
            out[name] = np.zeros(shape)
        else:
            out[name] = rng.uniform(-bound, bound, size=shape)
    if orthogonal:
        for p in spec.products:
            R = out[p.name]
            for r in range(0, R.shape[0], H):
                for c in range(0, R.shape[1], H):
                    q, rr = np.linalg.qr(rng.standard_normal((H, H)))
                    R[r:r + H, c:c + H] = q * np.sign(np.diag(rr))
    fb = spec.cls.forget_block
    ib = spec.cls.input_block
    b = out["b"]
    if scheme == "default" and fb is not None:
        k = spec.inputs.index(fb)
        b[k * H:(k + 1) * H] = spec.cls.forget_bias if forget_bias is None else forget_bias
    elif scheme == "chrono" and fb is not None:
        bf = np.log(rng.uniform(1.0, t_max - 1.0, size=H))
        k = spec.inputs.index(fb)
        b[k * H:(k + 1) * H] = bf
        if ib is not None:
            k = spec.inputs.index(ib)
            b[k * H:(k + 1) * H] = -bf
    elif scheme == "chrono":
        raise ValueError(f"init='chrono': variant {spec.name!r} has no forget block to initialise")
    return {k: v.astype(dtype) for k, v in out.items()}
