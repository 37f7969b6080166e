"""Built-in variants, one module per family; importing registers them.

Shipped as ``lstmlab.variants`` (PyPI has an unrelated top-level ``variants``).
"""
from .lstm import LSTM
from .peephole import Peephole
from .greff import NIG, NFG, NOG, NIAF, NOAF, NP, CIFG, FGR
from .gru import GRU
from .janet import JANET
from .mgu import MGU
from .rnn import ElmanRNN
from .irnn import IRNN
from .indrnn import IndRNN

__all__ = ["LSTM", "Peephole", "NIG", "NFG", "NOG", "NIAF", "NOAF", "NP", "CIFG", "FGR", "GRU", "JANET", "MGU",
           "ElmanRNN", "IRNN", "IndRNN"]
