"""MinimalRNN, after Chen (2017), written forward-only."""
from lstmlab import Product, Stage, Variant
from lstmlab.scalar import sigmoid, tanh


class MinimalRNN(Variant):
    r"""A MinimalRNN-style cell: the input is mapped once, one gate mixes it into the state.

    With :math:`x_k = W_k x_t + b_k` and :math:`a_u = R h_{t-1}`::

        z   = tanh(x_z)                  (input mapped to the latent space, no recurrence)
        u   = sigma(x_u + a_u)           (update gate, from the input and the state)
        h_t = u * h_{t-1} + (1 - u) * z

    Chen (2017), "MinimalRNN: Toward More Interpretable and Trainable Recurrent
    Neural Networks", arXiv:1711.06788. The paper's gate also reads z through a
    second matrix; here it reads x_t through W_u instead, so the step has one
    recurrent product.

    Only the forward is written: lstmlab derives the backward with sympy and
    saves sigma(.) and tanh(.) for it.
    """

    reference = "Chen 2017 (arXiv:1711.06788), MinimalRNN-style"
    inputs = ("z", "u")
    state = ("h",)
    stages = (Stage(products=(Product(("h",), ("u",)),), outputs=("h",)),)
    forget_block = "u"

    @staticmethod
    def forward(x_z, x_u, a_u, h):
        z = tanh(x_z)
        u = sigmoid(x_u + a_u)
        return (u * h + (1.0 - u) * z,)
