"""Convert parameters to and from torch.nn.LSTM / GRU / RNN state_dicts.

Works on plain arrays: torch is not imported. Pass ``{k: v.numpy()}`` from
``module.state_dict()``; load back with ``{k: torch.from_numpy(v)}``.

Layouts: torch packs LSTM gates ``i, f, g, o`` and GRU gates ``r, z, n`` in
``weight_ih_l{k}[_reverse]`` (4H or 3H, D), ``weight_hh_l{k}`` and two bias
vectors. lstmlab's ``lstm`` and ``gru`` use the same block order. For the LSTM
only the sum ``b_ih + b_hh`` matters, so it becomes ``b`` (and ``b_hh = 0`` on
the way back); the GRU keeps ``b_hh`` as ``b_R`` since r multiplies it.
``rnn`` is ``torch.nn.RNN(nonlinearity="tanh")`` and ``irnn`` is
``torch.nn.RNN(nonlinearity="relu")``, one block each, biases summed like the LSTM's.
A projected LSTM (``proj_size``) maps torch's ``weight_hr_l{k}`` to ``proj``.
"""
from __future__ import annotations

import numpy as np

#: lstmlab variant -> the torch module with the same function.
TORCH_MODULES = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN(nonlinearity='tanh')",
                 "irnn": "RNN(nonlinearity='relu')"}


def _kind(layer):
    name = layer.spec.name
    if name not in TORCH_MODULES:
        raise ValueError(f"torch conversion: variant must be one of {sorted(TORCH_MODULES)} "
                         f"(torch has no {name!r}), got {name!r}")
    if getattr(layer, "proj_size", 0) and name != "lstm":
        raise ValueError(f"torch conversion: proj_size={layer.proj_size} has a torch counterpart for 'lstm' only "
                         f"(torch.nn.LSTM(proj_size=...)); torch.nn.{TORCH_MODULES[name]} has none, got {name!r}")
    return name


def _suffixes(layer):
    for l in range(layer.num_layers):
        for d in range(layer.num_directions):
            yield f"layer{l}" + (".reverse" if d else ""), f"_l{l}" + ("_reverse" if d else "")


def from_torch(layer, state_dict: dict) -> dict:
    """lstmlab parameters for ``layer`` from a torch LSTM/GRU/RNN state_dict of arrays.

    Raises KeyError naming missing or unexpected keys; shapes are checked by
    :meth:`RNN.check_params`. Arrays are cast to the layer's dtype explicitly.
    """
    kind = _kind(layer)
    want = set()
    out = {}
    for ours, theirs in _suffixes(layer):
        keys = {n: f"{n}{theirs}" for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
        want.update(keys.values())
        missing = [k for k in keys.values() if k not in state_dict]
        if missing:
            raise KeyError(f"state_dict: missing {missing} (has {sorted(state_dict)})")
        g = {n: np.asarray(state_dict[k], dtype=layer.dtype) for n, k in keys.items()}
        if getattr(layer, "proj_size", 0):  # LSTMP: torch's weight_hr is lstmlab's proj
            k = f"weight_hr{theirs}"
            want.add(k)
            if k not in state_dict:
                raise KeyError(f"state_dict: missing {[k]} (this layer has proj_size={layer.proj_size}; has "
                               f"{sorted(state_dict)})")
            out[f"{ours}.proj"] = np.asarray(state_dict[k], dtype=layer.dtype).copy()
        out[f"{ours}.W"] = g["weight_ih"].copy()
        out[f"{ours}.R"] = g["weight_hh"].copy()
        if kind != "gru":  # one effective bias
            out[f"{ours}.b"] = g["bias_ih"] + g["bias_hh"]
        else:
            out[f"{ours}.b"] = g["bias_ih"].copy()
            out[f"{ours}.b_R"] = g["bias_hh"].copy()
    extra = sorted(set(state_dict) - want)
    if extra:
        hint = " (a projection's weight_hr: make the layer with proj_size)" if any("weight_hr" in k for k in extra) \
            else ""
        raise KeyError(f"state_dict: unexpected keys {extra}{hint}")
    return layer.check_params(out)


def to_torch(layer) -> dict:
    """A torch LSTM/GRU/RNN state_dict (of numpy arrays) with the same function as ``layer``."""
    kind = _kind(layer)
    p = layer.params
    out = {}
    for ours, theirs in _suffixes(layer):
        out[f"weight_ih{theirs}"] = p[f"{ours}.W"].copy()
        out[f"weight_hh{theirs}"] = p[f"{ours}.R"].copy()
        out[f"bias_ih{theirs}"] = p[f"{ours}.b"].copy()
        out[f"bias_hh{theirs}"] = (np.zeros_like(p[f"{ours}.b"]) if kind != "gru" else p[f"{ours}.b_R"].copy())
        if getattr(layer, "proj_size", 0):
            out[f"weight_hr{theirs}"] = p[f"{ours}.proj"].copy()
    return out
