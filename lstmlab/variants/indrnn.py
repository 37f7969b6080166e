"""IndRNN: independently recurrent ReLU units, one recurrent weight per unit."""
from lstmlab.registry import register
from lstmlab.scalar import relu
from lstmlab.variant import Stage, Variant


@register("indrnn")
class IndRNN(Variant):
    r"""Independently recurrent network (Li, Li, Cook, Zhu & Gao 2018)::

        h_t = relu(x_n + u * h_{t-1})        x_n = W x_t + b,  u: (H,) per unit

    There is no recurrent matrix: each unit sees only its own past, through
    ``u`` (a Hadamard product), so the step has no recurrent GEMM. Units mix
    only through the next layer's ``W``. The gradient over a lag of k steps is
    :math:`u^k` times the ReLU masks, which the paper keeps bounded by
    constraining :math:`|u| \le 2^{1/T}` (not enforced here: clip ``u`` between
    steps if you want it).

    ``u`` starts uniform in [0, 1] (the common choice of the authors' code);
    ``recurrent_init="identity"`` starts it at ``recurrent_gain`` (1 by default).

    Li et al. (2018), "Independently Recurrent Neural Network (IndRNN): Building
    a Longer and Deeper RNN", CVPR, arXiv:1803.04831.
    """

    reference = "Li et al. 2018 (arXiv:1803.04831)"
    inputs = ("n",)
    state = ("h",)
    unit_params = ("u",)
    stages = (Stage(products=(), outputs=("h",)),)
    gated = False
    recurrent_unit_params = ("u",)

    @classmethod
    def init_unit_param(cls, name, hidden, rng):
        return rng.uniform(0.0, 1.0, size=hidden)

    @staticmethod
    def forward(x_n, h, u):
        return (relu(x_n + u * h),)

    @staticmethod
    def backward(h, u, h_new, d_h):
        d = d_h if h_new > 0.0 else 0.0 * d_h
        return d, d * u, d * h
