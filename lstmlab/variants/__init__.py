"""Built-in variants, one module per family; importing registers them.

Your own variants need no place in this package: register them from any module, or
ship them in a package of your own through the ``lstmlab.variants`` entry-point
group (the top-level ``variants/`` folder of a source checkout holds a worked example).
"""
from .greff import CIFG, FGR, NFG, NIAF, NIG, NOAF, NOG, NP
from .gru import GRU
from .indrnn import IndRNN
from .irnn import IRNN
from .janet import JANET
from .lstm import LSTM
from .mgu import MGU
from .peephole import Peephole
from .rnn import ElmanRNN

__all__ = ["LSTM", "Peephole", "NIG", "NFG", "NOG", "NIAF", "NOAF", "NP", "CIFG", "FGR", "GRU", "JANET", "MGU",
           "ElmanRNN", "IRNN", "IndRNN"]
