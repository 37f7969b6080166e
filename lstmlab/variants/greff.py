"""The eight variants of Greff et al. (2017), "LSTM: A Search Space Odyssey".

IEEE TNNLS 28(10), arXiv:1503.04069, Sec. III. Each is defined against the
vanilla :class:`~lstmlab.variants.peephole.Peephole` and changes one thing:
the blocks and peephole weights it drops and a switch of the vanilla maths.
Their findings: none beats vanilla significantly; CIFG and NP simplify the
model without hurting; the forget gate and the output activation are critical.
"""
from lstmlab.registry import register
from lstmlab.variant import Product, Stage

from .peephole import Peephole

_REF = "Greff et al. 2017 (arXiv:1503.04069)"


@register("nig")
class NIG(Peephole):
    """No input gate: i = 1 (no W_i, R_i, b_i, p_i). Greff et al. (2017), arXiv:1503.04069."""
    reference = _REF + ", NIG"
    inputs = ("z", "f", "o")
    unit_params = ("p_f", "p_o")
    input_block = None
    INPUT_GATE = False


@register("nfg")
class NFG(Peephole):
    """No forget gate: f = 1, so c_t = c_{t-1} + z * i.  Greff et al. (2017), arXiv:1503.04069."""
    reference = _REF + ", NFG"
    inputs = ("z", "i", "o")
    unit_params = ("p_i", "p_o")
    forget_block = None
    FORGET_GATE = False


@register("nog")
class NOG(Peephole):
    """No output gate: o = 1, so y_t = h(c_t).  Greff et al. (2017), arXiv:1503.04069."""
    reference = _REF + ", NOG"
    inputs = ("z", "i", "f")
    unit_params = ("p_i", "p_f")
    OUTPUT_GATE = False


@register("niaf")
class NIAF(Peephole):
    """No input activation function: g(x) = x.  Greff et al. (2017), arXiv:1503.04069."""
    reference = _REF + ", NIAF"
    INPUT_ACTIVATION = False


@register("noaf")
class NOAF(Peephole):
    """No output activation function: h(x) = x, so y_t = c_t * o.  Greff et al. (2017), arXiv:1503.04069."""
    reference = _REF + ", NOAF"
    OUTPUT_ACTIVATION = False


@register("np")
class NP(Peephole):
    """No peepholes: p_i = p_f = p_o = 0 (no peephole parameters).  Greff et al. (2017), arXiv:1503.04069."""
    reference = _REF + ", NP"
    unit_params = ()


@register("cifg")
class CIFG(Peephole):
    """Coupled input and forget gate: f = 1 - i (no forget-gate block).

    With no forget block the forget-bias initialisers do not apply; a large
    input-gate bias plays the opposite role.  Greff et al. (2017), arXiv:1503.04069."""
    reference = _REF + ", CIFG"
    inputs = ("z", "i", "o")
    unit_params = ("p_i", "p_o")
    forget_block = None
    COUPLED = True


@register("fgr")
class FGR(Peephole):
    r"""Full gate recurrence: every gate also reads the previous step's gate
    activations, through nine extra H x H matrices (``R_gates``)::

        i = sigma(x_i + R_i y_{t-1} + R_ii i_{t-1} + R_if f_{t-1} + R_io o_{t-1} + p_i * c_{t-1})

    and likewise for f and o; z is as in vanilla. The previous gate activations
    are part of the recurrent state (``gi, gf, go``; zero at t = 0).  Greff et al. (2017), arXiv:1503.04069."""
    reference = _REF + ", FGR"
    state = ("h", "c", "gi", "gf", "go")
    stages = (Stage(products=(Product(("h",), ("z", "i", "f", "o"), name="R"),
                              Product(("gi", "gf", "go"), ("i", "f", "o"), name="R_gates")),
                    outputs=("h", "c", "gi", "gf", "go", "z_act", "i_act", "f_act", "o_act", "h_c")),)

    @staticmethod
    def forward(x_z, a_z, c, x_i, a_i, x_f, a_f, x_o, a_o, p_i, p_f, p_o):
        y, c_new, z, i, f, o, hc = cell(x_z, a_z, c, x_i, a_i, x_f, a_f, x_o, a_o,  # noqa: F821
                                        p_i, p_f, p_o)
        return y, c_new, i, f, o, z, i, f, o, hc

    @staticmethod
    def backward(c, c_new, z_act, i_act, f_act, o_act, h_c, d_h, d_c, d_gi, d_gf, d_go, p_i, p_f, p_o):
        return cell_grad(c, c_new, z_act, i_act, f_act, o_act, h_c, d_h, d_c,  # noqa: F821
                         p_i, p_f, p_o, d_gi, d_gf, d_go)
