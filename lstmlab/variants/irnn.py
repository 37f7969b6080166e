"""The IRNN: ReLU units with the recurrent matrix initialised to the identity."""
from lstmlab.registry import register
from lstmlab.scalar import relu
from lstmlab.variant import Variant


@register("irnn")
class IRNN(Variant):
    r"""IRNN (Le, Jaitly & Hinton 2015): the function of ``torch.nn.RNN(nonlinearity="relu")``
    with ``R = I`` and zero biases at initialisation::

        h_t = relu(x_n + a_n)          x_n = W x_t + b,  a_n = R h_{t-1}

    With R = I and no input a unit keeps its value for ever, so the gradient
    does not vanish at initialisation; ``recurrent_gain`` scales the identity
    (Le et al. also discuss a scaled identity, which trades memory for stability).

    Le, Jaitly & Hinton (2015), "A Simple Way to Initialize Recurrent Networks of
    Rectified Linear Units", arXiv:1504.00941. The subgradient at 0 is 0, as in torch.
    """

    reference = "Le, Jaitly & Hinton 2015 (arXiv:1504.00941)"
    inputs = ("n",)
    state = ("h",)
    gated = False
    recurrent_init = "identity"

    @staticmethod
    def forward(x_n, a_n):
        return (relu(x_n + a_n),)

    @staticmethod
    def backward(h_new, d_h):
        d = d_h if h_new > 0.0 else 0.0 * d_h
        return d, d
