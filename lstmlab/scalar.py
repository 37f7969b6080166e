"""Scalar helpers that variants' pointwise maths may call.

Plain Python over ``math``: the engine compiles whatever helper a variant's
pointwise function reaches for its target (``numba.njit`` on the CPU, a
numba.cuda device function later), and the NumPy reference in the tests calls
them uncompiled. Use only what both Numba targets compile: ``math`` functions,
arithmetic, comparisons, ``if``. On the CPU, ``sigmoid``, ``tanh``, ``exp`` and
``math.exp``/``math.expm1``/``math.tanh`` are compiled as the vectorisable
versions of :mod:`lstmlab.fastmath` (relative error < 1e-15).
"""
import math

__all__ = ["sigmoid", "tanh", "exp", "identity", "relu", "relu_step"]


def sigmoid(x):
    """Logistic function sigma(x) = 1 / (1 + exp(-x)), stable for large |x|."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def tanh(x):
    """Hyperbolic tangent."""
    return math.tanh(x)


def exp(x):
    """e**x. On the CPU the engine compiles a vectorisable version (lstmlab.fastmath)."""
    return math.exp(x)


def identity(x):
    """x (used where a variant drops an activation function)."""
    return x


def relu(x):
    """max(x, 0), the rectifier of the IRNN and IndRNN."""
    return x if x > 0.0 else 0.0 * x


def relu_step(y):
    """d relu(x)/dx written as a function of y = relu(x): 1 where y > 0, else 0
    (the subgradient at 0 is taken as 0, as torch does)."""
    return 1.0 if y > 0.0 else 0.0
