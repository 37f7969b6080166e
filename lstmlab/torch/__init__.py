"""lstmlab's kernels inside PyTorch models: an ``nn.Module`` for every registered variant.

Optional: it needs torch, and ``import lstmlab`` never imports torch. ::

    import torch, lstmlab.torch
    rnn = lstmlab.torch.Recurrent("cifg", input_size=8, hidden_size=64, batch_first=True)
    out, (h, c) = rnn(torch.randn(4, 100, 8))       # as torch.nn.LSTM
    out.sum().backward()                             # lstmlab's BPTT kernels, through autograd

    CIFG = lstmlab.torch.module_class("cifg")        # or a class with the variant fixed
    lstm = lstmlab.torch.module_class("lstm")(8, 64)
    lstm.load_state_dict(torch.nn.LSTM(8, 64).state_dict())   # torch's own weights, same outputs

See :class:`Recurrent` for the conventions (those of ``torch.nn.LSTM``).
"""
from .module import Recurrent, module_class

__all__ = ["Recurrent", "module_class"]
