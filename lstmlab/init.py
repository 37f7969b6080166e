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

The recurrent weights are initialised separately (``recurrent_init``), so any
bias scheme combines with any of:

``"default"``
    what the bias scheme draws (uniform in [-1/sqrt(H), 1/sqrt(H)]).
``"orthogonal"``
    every H x H block of the recurrent matrices a random orthogonal matrix
    (Saxe, McClelland & Ganguli 2014; the strong tanh-RNN baseline of Henaff,
    Szlam & LeCun 2016). ``orthogonal=True`` is an alias.
``"identity"``
    every square H x H block ``gain * I``, other blocks zero, and the
    variant's ``recurrent_unit_params`` (IndRNN's ``u``) set to ``gain``
    (Le, Jaitly & Hinton 2015). Only for variants with ``gated = False``: in a
    gated cell it would pin the gates' recurrent inputs to the state itself.

Unit parameters start at zero unless the variant's ``init_unit_param`` says
otherwise. ``None`` for ``recurrent_init`` takes the variant's own default
(``Variant.recurrent_init``: "identity" for the IRNN, "default" elsewhere).
"""
from __future__ import annotations

import math
import numbers

import numpy as np

SCHEMES = ("default", "torch", "chrono")
RECURRENT_INITS = ("default", "orthogonal", "identity")


def resolve_recurrent_init(spec, recurrent_init=None, orthogonal: bool = False,
                           recurrent_gain: float = 1.0) -> str:
    """The recurrent initialisation ``spec`` gets, checked; raises ValueError naming the argument."""
    if orthogonal not in (True, False):
        raise ValueError(f"orthogonal: expected True or False, got {orthogonal!r}")
    if orthogonal:
        if recurrent_init not in (None, "orthogonal"):
            raise ValueError(f"orthogonal=True is an alias of recurrent_init='orthogonal'; "
                             f"it contradicts recurrent_init={recurrent_init!r}")
        recurrent_init = "orthogonal"
    if recurrent_init is None:
        recurrent_init = spec.cls.recurrent_init
    if recurrent_init not in RECURRENT_INITS:
        raise ValueError(f"recurrent_init: expected one of {RECURRENT_INITS} (or None for the variant's "
                         f"default), got {recurrent_init!r}")
    if recurrent_init == "identity" and spec.cls.gated:
        raise ValueError(f"recurrent_init='identity': variant {spec.name!r} is gated; an identity recurrent "
                         f"matrix is for the non-gated cells (gated = False: e.g. 'rnn', 'irnn', 'indrnn'). "
                         f"Use 'orthogonal' or 'default'")
    if recurrent_init == "orthogonal" and not spec.products:
        raise ValueError(f"recurrent_init='orthogonal': variant {spec.name!r} has no recurrent matrix to make "
                         f"orthogonal; use 'identity' or 'default'")
    if isinstance(recurrent_gain, bool) or not isinstance(recurrent_gain, numbers.Real) \
            or not math.isfinite(recurrent_gain) or recurrent_gain <= 0:
        raise ValueError(f"recurrent_gain: expected a finite number > 0, got {recurrent_gain!r}")
    if recurrent_gain != 1.0 and recurrent_init != "identity":
        raise ValueError(f"recurrent_gain: scales recurrent_init='identity' only; variant {spec.name!r} gets "
                         f"recurrent_init={recurrent_init!r}, so recurrent_gain={recurrent_gain!r} would be ignored")
    return recurrent_init


def init_params(spec, input_size: int, hidden: int, rng: np.random.Generator, *, dtype=np.float64,
                scheme: str = "default", forget_bias: float | None = None, t_max: float | None = None,
                orthogonal: bool = False, recurrent_init: str | None = None,
                recurrent_gain: float = 1.0) -> dict:
    """Parameters of one direction of one layer, as a dict of arrays.

    ``spec``: the variant's spec; ``rng``: consumed in a fixed order (weights,
    then recurrent blocks, then chrono), so a seed gives the same parameters.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"init: expected one of {SCHEMES}, got {scheme!r}")
    if forget_bias is not None and not (isinstance(forget_bias, (int, float, np.floating, np.integer))
                                        and not isinstance(forget_bias, bool) and math.isfinite(forget_bias)):
        raise ValueError(f"forget_bias: expected a finite number or None (the variant's default), got "
                         f"{forget_bias!r}")
    if t_max is not None and scheme != "chrono":
        raise ValueError(f"t_max: only init='chrono' uses it (it sets the range of the chrono biases), got "
                         f"t_max={t_max!r} with init={scheme!r}")
    recurrent_init = resolve_recurrent_init(spec, recurrent_init, orthogonal, recurrent_gain)
    if scheme == "chrono":
        if t_max is None or not (isinstance(t_max, (int, float)) and math.isfinite(t_max) and t_max > 2):
            raise ValueError(f"init='chrono' needs t_max > 2 (the longest dependency, e.g. T), got {t_max!r}")
    H = hidden
    bound = 1.0 / math.sqrt(H)
    out = {}
    for name, shape in spec.param_shapes(input_size, hidden).items():
        if name in spec.unit_params or (name.startswith("b") and len(shape) == 1 and scheme != "torch"):
            out[name] = np.zeros(shape)
        else:
            out[name] = rng.uniform(-bound, bound, size=shape)
    for u in spec.unit_params:
        val = spec.cls.init_unit_param(u, H, rng)
        if val is not None:
            out[u] = np.array(val, dtype=np.float64).reshape(H)
    if recurrent_init == "orthogonal":
        for p in spec.products:
            R = out[p.name]
            for r in range(0, R.shape[0], H):
                for c in range(0, R.shape[1], H):
                    q, rr = np.linalg.qr(rng.standard_normal((H, H)))
                    R[r:r + H, c:c + H] = q * np.sign(np.diag(rr))
    elif recurrent_init == "identity":
        for p in spec.products:
            out[p.name][:] = 0.0
            for k in range(min(len(p.targets), len(p.source))):
                out[p.name][k * H:(k + 1) * H, k * H:(k + 1) * H] = recurrent_gain * np.eye(H)
        for u in spec.cls.recurrent_unit_params:
            out[u][:] = recurrent_gain
    fb = spec.cls.forget_block
    ib = spec.cls.input_block

    def bias(block):
        """Block ``block``'s bias, a view: a slice of ``b``, or the unit vector that replaces it."""
        if "b" in out:
            k = spec.inputs.index(block)
            return out["b"][k * H:(k + 1) * H]
        return out[spec.cls.block_bias[block]]

    if scheme == "default" and fb is not None:
        bias(fb)[:] = spec.cls.forget_bias if forget_bias is None else forget_bias
    elif scheme == "chrono" and fb is not None:
        bf = np.log(rng.uniform(1.0, t_max - 1.0, size=H))
        bias(fb)[:] = bf
        if ib is not None:
            bias(ib)[:] = -bf
    elif scheme == "chrono":
        raise ValueError(f"init='chrono': variant {spec.name!r} has no forget block to initialise")
    return {k: v.astype(dtype) for k, v in out.items()}
