"""The Elman network: a tanh RNN with no gates, the floor gated cells are measured against."""
from lstmlab.registry import register
from lstmlab.scalar import tanh
from lstmlab.variant import Variant


@register("rnn")
class ElmanRNN(Variant):
    r"""Elman (tanh) recurrent network: the function of ``torch.nn.RNN(nonlinearity="tanh")``.

    One block ``n``; :math:`x_n = W x_t + b`, :math:`a_n = R h_{t-1}`::

        h_t = tanh(x_n + a_n)

    The gradient through one step is :math:`\mathrm{diag}(1 - h_t^2) R`; over a
    lag of k steps it is a product of k such factors, which vanishes (or
    explodes) geometrically unless R is kept near an isometry (Bengio, Simard &
    Frasconi 1994; Pascanu, Mikolov & Bengio 2013). ``recurrent_init=
    "orthogonal"`` is the classic strong initialisation on copy-type tasks
    (Henaff, Szlam & LeCun 2016, arXiv:1602.06662).

    Elman (1990), "Finding structure in time", Cognitive Science 14(2).
    torch's two biases ``b_ih + b_hh`` are one bias ``b`` here.
    """

    reference = "Elman 1990 (tanh RNN; torch.nn.RNN)"
    inputs = ("n",)
    state = ("h",)
    gated = False

    @staticmethod
    def forward(x_n, a_n):
        return (tanh(x_n + a_n),)

    @staticmethod
    def backward(h_new, d_h):
        d = d_h * (1.0 - h_new * h_new)
        return d, d
