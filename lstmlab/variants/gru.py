"""The GRU in its cuDNN / torch.nn.GRU form (reset applied after the product)."""
from lstmlab.registry import register
from lstmlab.scalar import sigmoid, tanh
from lstmlab.variant import Product, Stage, Variant


@register("gru")
class GRU(Variant):
    r"""Gated recurrent unit, cuDNN form (the function of ``torch.nn.GRU``).

    Blocks packed ``r, z, n``; :math:`a_k = R_k h_{t-1} + b_{R,k}` (the
    recurrent bias ``b_R`` matters: r multiplies it in the n block)::

        r = sigma(x_r + a_r)
        z = sigma(x_z + a_z)
        n = tanh(x_n + r * a_n)
        h_t = (1 - z) * n + z * h_{t-1}

    Cho et al. (2014), arXiv:1406.1078; reset-after form of cuDNN and PyTorch.
    ``forget_block`` is ``z`` (a large z keeps the state), for the initialisers.
    """

    reference = "Cho et al. 2014 (arXiv:1406.1078), cuDNN/torch reset-after form"
    inputs = ("r", "z", "n")
    state = ("h",)
    candidate_block = "n"
    stages = (Stage(products=(Product(("h",), ("r", "z", "n"), bias=True),),
                    outputs=("h", "r_act", "z_act", "n_act", "hn")),)
    forget_block = "z"

    @staticmethod
    def forward(x_r, x_z, x_n, a_r, a_z, a_n, h):
        r = sigmoid(x_r + a_r)
        z = sigmoid(x_z + a_z)
        n = tanh(x_n + r * a_n)
        return (1.0 - z) * n + z * h, r, z, n, a_n

    @staticmethod
    def backward(h, r_act, z_act, n_act, hn, d_h):
        dn = d_h * (1.0 - z_act) * (1.0 - n_act * n_act)
        dz = d_h * (h - n_act) * z_act * (1.0 - z_act)
        dr = dn * hn * r_act * (1.0 - r_act)
        return dr, dz, dn, dr, dz, dn * r_act, d_h * z_act
