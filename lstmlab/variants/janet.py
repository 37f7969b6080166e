"""JANET: the forget-gate-only LSTM of van der Westhuizen & Lasenby (2018)."""
from lstmlab.registry import register
from lstmlab.scalar import sigmoid, tanh
from lstmlab.variant import Variant


@register("janet")
class JANET(Variant):
    r"""JANET, "just another network": a single forget gate with a shifted
    input gate 1 - sigma(s - beta), and h_t = c_t::

        s   = x_f + a_f                       (a_f = U_f h_{t-1})
        c~  = tanh(x_c + a_c)
        h_t = sigma(s) * h_{t-1} + (1 - sigma(s - BETA)) * c~      BETA = 1

    van der Westhuizen & Lasenby (2018), "The unreasonable effectiveness of the
    forget gate", arXiv:1804.04849. The paper initialises the forget bias with
    chrono initialisation (``init="chrono"``).
    """

    reference = "van der Westhuizen & Lasenby 2018 (arXiv:1804.04849)"
    inputs = ("f", "c")
    state = ("h",)
    candidate_block = "c"
    saved = ("f_act", "g_act", "c_tilde")
    forget_block = "f"
    BETA = 1.0

    @staticmethod
    def forward(x_f, x_c, a_f, a_c, h):
        s = x_f + a_f
        f = sigmoid(s)
        g = sigmoid(s - BETA)
        ct = tanh(x_c + a_c)
        return f * h + (1.0 - g) * ct, f, g, ct

    @staticmethod
    def backward(h, f_act, g_act, c_tilde, d_h):
        ds = d_h * (h * f_act * (1.0 - f_act) - c_tilde * g_act * (1.0 - g_act))
        dc = d_h * (1.0 - g_act) * (1.0 - c_tilde * c_tilde)
        return ds, dc, ds, dc, d_h * f_act
