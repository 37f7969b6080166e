"""MGU, the minimal gated unit of Zhou et al. (2016): a gate before a second product."""
from lstmlab.registry import register
from lstmlab.scalar import sigmoid, tanh
from lstmlab.variant import Product, Stage, Variant


@register("mgu")
class MGU(Variant):
    r"""Minimal gated unit: one gate, applied to the state *before* the second
    recurrent product (two stages per step)::

        f   = sigma(x_f + U_f h_{t-1})                  stage 1, product R
        h~  = tanh(x_n + U_h (f * h_{t-1}))             stage 2, product R_n
        h_t = (1 - f) * h_{t-1} + f * h~

    Zhou, Wu, Zhang & Zhou (2016), "Minimal gated unit for recurrent neural
    networks", arXiv:1603.09420. The same two-stage shape gives the original
    reset-before GRU (Cho et al. 2014; Keras ``reset_after=False``).
    """

    reference = "Zhou, Wu, Zhang & Zhou 2016 (arXiv:1603.09420)"
    inputs = ("f", "n")
    state = ("h",)
    candidate_block = "n"
    stages = (
        Stage(products=(Product(("h",), ("f",), name="R"),), outputs=("m", "f_act"),
              forward="gate", backward="gate_grad"),
        Stage(products=(Product(("m",), ("n",), name="R_n"),), outputs=("h", "n_act"),
              forward="candidate", backward="candidate_grad"),
    )
    forget_block = "f"

    @staticmethod
    def gate(x_f, a_f, h):
        f = sigmoid(x_f + a_f)
        return f * h, f

    @staticmethod
    def gate_grad(h, f_act, d_m, d_f_act):
        dpre = (d_m * h + d_f_act) * f_act * (1.0 - f_act)
        return dpre, dpre, d_m * f_act

    @staticmethod
    def candidate(x_n, a_n, h, f_act):
        n = tanh(x_n + a_n)
        return (1.0 - f_act) * h + f_act * n, n

    @staticmethod
    def candidate_grad(h, f_act, n_act, d_h):
        dn = d_h * f_act * (1.0 - n_act * n_act)
        return dn, dn, d_h * (1.0 - f_act), d_h * (n_act - h)
