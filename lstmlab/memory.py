"""How much memory a layer or a training run needs, checked before anything is allocated.

The estimate counts what the engine allocates, per direction of each layer:
parameters; the forward tape (state history ``(T+1) B nstate H``, saved values
``T B nsaved H``, each product's inputs ``T B len(source) H``, the input
projection when the backward reads it, else one chunk of it) and the output;
the backward's temporaries (a chunk of ``dXP`` and of each ``dA``, ``dx``,
the gradients). A training run adds the optimiser's state (per parameter:
Adam 2, momentum 1) and the readout. It is an estimate of NumPy buffers, not
of the interpreter; a size the machine cannot hold is refused with the
estimate and the memory available.
"""
from __future__ import annotations

import math
import os

from . import config
from .hostside import backward_reads_x

#: Extra arrays the optimisers keep, per parameter.
OPTIMIZER_COPIES = {"sgd": 1, "rmsprop": 1, "adam": 2}  # sgd: its momentum buffer


def available_bytes() -> int | None:
    """Memory the machine can still give this process (MemAvailable), or None where unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def param_count(spec, D: int, H: int, layers: int = 1, directions: int = 1) -> int:
    """Parameters of a stack: the first layer reads D inputs, the others H * directions."""
    n = 0
    for layer in range(layers):
        d_in = D if layer == 0 else H * directions
        n += directions * sum(math.prod(s) for s in spec.param_shapes(d_in, H).values())
    return n


def layer_bytes(spec, D: int, H: int, T: int, B: int, itemsize: int, layers: int = 1,
                directions: int = 1, backward: bool = True, zoneout_steps: int = 0, mask_steps: int = 0) -> dict:
    """``{"parameters", "tape", "backward", "total"}`` bytes of one forward (+ backward) of a stack.

    ``zoneout_steps``: the steps zoneout's mask and new-state buffers cover (all of the sequence's,
    also when the tape is recomputed in segments; 0 without zoneout); ``mask_steps``: likewise for the
    per-step masks of candidate dropout (:mod:`lstmlab.candidate_dropout`).
    """
    chunk = min(T, max(1, -(-config.CHUNK_ROWS // max(B, 1))))
    reads_x = backward_reads_x(spec)
    G = len(spec.inputs)
    tape = 0
    temps = 0
    for layer in range(layers):
        d_in = D if layer == 0 else H * directions
        per_dir = ((T + 1) * B * len(spec.state) * H + T * B * len(spec.saved) * H
                   + sum(T * B * len(p.source) * H for p in spec.products)
                   + (T if reads_x else chunk) * B * G * H + T * B * H
                   + 2 * zoneout_steps * B * len(spec.state) * H + mask_steps * B * H)
        tape += directions * per_dir
        temps = max(temps, directions * (chunk * B * G * H + sum(chunk * B * len(p.targets) * H
                                                                  for p in spec.products) + T * B * d_in))
    params = param_count(spec, D, H, layers, directions)
    out = {"parameters": params * itemsize, "tape": tape * itemsize,
           "backward": (temps + params) * itemsize if backward else 0}
    out["total"] = sum(out.values())
    return out


def fmt(n: float) -> str:
    for unit, size in (("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def check_fits(what: str, need: int, parts: dict | None = None, advice: str = "") -> None:
    """Raise MemoryError naming ``what``, the estimate and the memory available, when it does not fit."""
    have = available_bytes()
    if have is None or need <= have:
        return
    detail = f" ({', '.join(f'{k} {fmt(v)}' for k, v in parts.items() if k != 'total' and v)})" if parts else ""
    raise MemoryError(f"{what}: needs about {fmt(need)}{detail}, but only {fmt(have)} of memory is available"
                      + (f"; {advice}" if advice else ""))


def run_bytes(cfg) -> dict:
    """The estimate for one training run of a :class:`~lstmlab.training.TrainConfig`.

    A training step (forward + backward of ``batch_size`` sequences), the
    parameters with their gradients and optimiser state, and one held-out
    batch's forward (up to 256 sequences).
    """
    import numpy as np

    from .registry import get_spec
    spec = get_spec(cfg.variant)
    task = cfg.make_task()
    item = np.dtype(cfg.dtype).itemsize
    T, D, H, L = task.seq_len(), task.feature_size, cfg.hidden, cfg.layers
    step = layer_bytes(spec, D, H, T, cfg.batch_size, item, L)
    evals = layer_bytes(spec, D, H, T, min(cfg.eval_size, 256), item, L, backward=False)
    params = step["parameters"] * (1 + OPTIMIZER_COPIES.get(cfg.optimizer, 2))
    out = {"parameters and optimiser state": params, "training step": step["tape"] + step["backward"],
           "held-out batch": evals["tape"]}
    out["total"] = params + max(out["training step"], out["held-out batch"])
    return out
