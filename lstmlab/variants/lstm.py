"""The LSTM with a forget gate and no peepholes: torch.nn.LSTM's function."""
from lstmlab.registry import register
from lstmlab.scalar import sigmoid, tanh
from lstmlab.variant import Variant


@register("lstm")
class LSTM(Variant):
    r"""LSTM with forget gate, no peepholes (the function of ``torch.nn.LSTM``).

    With :math:`x_k = W_k x_t + b_k` and :math:`a_k = R_k h_{t-1}`, blocks packed
    ``i, f, g, o`` as in PyTorch::

        i = sigma(x_i + a_i)    f = sigma(x_f + a_f)
        g = tanh(x_g + a_g)     o = sigma(x_o + a_o)
        c_t = f * c_{t-1} + i * g
        h_t = o * tanh(c_t)

    Hochreiter & Schmidhuber (1997), "Long Short-Term Memory", Neural Computation
    9(8); forget gate: Gers, Schmidhuber & Cummins (2000), Neural Computation 12(10).
    """

    reference = "Hochreiter & Schmidhuber 1997; Gers, Schmidhuber & Cummins 2000 (forget gate)"
    inputs = ("i", "f", "g", "o")
    state = ("h", "c")
    saved = ("i_act", "f_act", "g_act", "o_act", "tanh_c")
    forget_block = "f"
    input_block = "i"
    cell_state = "c"
    candidate_block = "g"

    @staticmethod
    def cell_output(c, o_act):
        return o_act * tanh(c)

    @staticmethod
    def forward(x_i, x_f, x_g, x_o, a_i, a_f, a_g, a_o, c):
        i = sigmoid(x_i + a_i)
        f = sigmoid(x_f + a_f)
        g = tanh(x_g + a_g)
        o = sigmoid(x_o + a_o)
        c_new = f * c + i * g
        tc = tanh(c_new)
        return o * tc, c_new, i, f, g, o, tc

    @staticmethod
    def backward(c, i_act, f_act, g_act, o_act, tanh_c, d_h, d_c):
        dc = d_c + d_h * o_act * (1.0 - tanh_c * tanh_c)
        di = dc * g_act * i_act * (1.0 - i_act)
        df = dc * c * f_act * (1.0 - f_act)
        dg = dc * i_act * (1.0 - g_act * g_act)
        do = d_h * tanh_c * o_act * (1.0 - o_act)
        return di, df, dg, do, di, df, dg, do, dc * f_act
