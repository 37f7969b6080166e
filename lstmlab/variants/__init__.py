"""Built-in variants, one module per family; importing registers them.

Your own variants need no place in this package: register them from any module, or
ship them in a package of your own through the ``lstmlab.variants`` entry-point
group (the top-level ``variants/`` folder of a source checkout holds a worked example).
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
