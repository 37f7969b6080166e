"""The peephole LSTM: Greff et al.'s "vanilla", the base of their eight variants."""
from lstmlab.registry import register
from lstmlab.scalar import sigmoid, tanh
from lstmlab.variant import Variant


@register("peephole")
class Peephole(Variant):
    r"""Peephole LSTM, the "vanilla" LSTM of Greff et al. (2017).

    Blocks packed ``z, i, f, o``; :math:`x_k = W_k x_t + b_k`, :math:`a_k = R_k y_{t-1}`;
    peephole weights :math:`p_i, p_f, p_o` are per-unit vectors::

        z = g(x_z + a_z)                          g = tanh  (block input)
        i = sigma(x_i + a_i + p_i * c_{t-1})      (input gate)
        f = sigma(x_f + a_f + p_f * c_{t-1})      (forget gate)
        c_t = z * i + c_{t-1} * f
        o = sigma(x_o + a_o + p_o * c_t)          (output gate peeps at the new cell)
        y_t = h(c_t) * o                          h = tanh  (output activation)

    Gers & Schmidhuber (2000), "Recurrent nets that time and count", IJCNN;
    Greff, Srivastava, Koutnik, Steunebrink & Schmidhuber (2017), "LSTM: A Search
    Space Odyssey", IEEE TNNLS 28(10), arXiv:1503.04069, Sec. II.

    The eight variants of Greff et al. subclass this one and change only the
    switches below (and the blocks/parameters they drop); a dropped gate's
    arguments take their defaults (0.0) and the switch fixes its value to 1.
    """

    reference = "Gers & Schmidhuber 2000; Greff et al. 2017 (arXiv:1503.04069), vanilla"
    inputs = ("z", "i", "f", "o")
    state = ("h", "c")
    unit_params = ("p_i", "p_f", "p_o")
    saved = ("z_act", "i_act", "f_act", "o_act", "h_c")
    forget_block = "f"
    input_block = "i"

    INPUT_GATE = True         # NIG: i = 1
    FORGET_GATE = True        # NFG: f = 1
    OUTPUT_GATE = True        # NOG: o = 1
    COUPLED = False           # CIFG: f = 1 - i
    INPUT_ACTIVATION = True   # NIAF: g(x) = x
    OUTPUT_ACTIVATION = True  # NOAF: h(x) = x
    cell_state = "c"
    candidate_block = "z"

    @staticmethod
    def cell_output(c, o_act):
        return (tanh(c) if OUTPUT_ACTIVATION else c) * o_act

    @staticmethod
    def cell(x_z, a_z, c, x_i, a_i, x_f, a_f, x_o, a_o, p_i, p_f, p_o):
        """The vanilla step; returns (y, c_t, z, i, f, o, h(c_t))."""
        z = x_z + a_z
        if INPUT_ACTIVATION:
            z = tanh(z)
        i = sigmoid(x_i + a_i + p_i * c) if INPUT_GATE else 1.0
        if COUPLED:
            f = 1.0 - i
        else:
            f = sigmoid(x_f + a_f + p_f * c) if FORGET_GATE else 1.0
        c_new = z * i + c * f
        o = sigmoid(x_o + a_o + p_o * c_new) if OUTPUT_GATE else 1.0
        hc = tanh(c_new) if OUTPUT_ACTIVATION else c_new
        return hc * o, c_new, z, i, f, o, hc

    @staticmethod
    def cell_grad(c, c_new, z, i, f, o, hc, d_h, d_c, p_i, p_f, p_o, e_i, e_f, e_o):
        """VJP of :meth:`cell`; ``e_*`` are extra gradients reaching the gate
        activations directly (FGR feeds them back). Returns the gradients of
        (x_z, a_z, c, x_i, a_i, x_f, a_f, x_o, a_o, p_i, p_f, p_o)."""
        do_pre = (d_h * hc + e_o) * o * (1.0 - o) if OUTPUT_GATE else 0.0
        dhc = d_h * o
        dcn = d_c + do_pre * p_o + (dhc * (1.0 - hc * hc) if OUTPUT_ACTIVATION else dhc)
        dz = dcn * i
        di = dcn * z + e_i
        df = dcn * c + e_f
        if COUPLED:
            di = di - df
        dz_pre = dz * (1.0 - z * z) if INPUT_ACTIVATION else dz
        di_pre = di * i * (1.0 - i) if INPUT_GATE else 0.0
        df_pre = df * f * (1.0 - f) if (FORGET_GATE and not COUPLED) else 0.0
        dc = dcn * f + di_pre * p_i + df_pre * p_f
        return (dz_pre, dz_pre, dc, di_pre, di_pre, df_pre, df_pre, do_pre, do_pre,
                di_pre * c, df_pre * c, do_pre * c_new)

    @staticmethod
    def forward(x_z, a_z, c, x_i=0.0, a_i=0.0, x_f=0.0, a_f=0.0, x_o=0.0, a_o=0.0,
                p_i=0.0, p_f=0.0, p_o=0.0):
        return cell(x_z, a_z, c, x_i, a_i, x_f, a_f, x_o, a_o, p_i, p_f, p_o)  # noqa: F821 (class helper)

    @staticmethod
    def backward(c, c_new, z_act, i_act, f_act, o_act, h_c, d_h, d_c, p_i=0.0, p_f=0.0, p_o=0.0):
        return cell_grad(c, c_new, z_act, i_act, f_act, o_act, h_c, d_h, d_c,  # noqa: F821
                         p_i, p_f, p_o, 0.0, 0.0, 0.0)
