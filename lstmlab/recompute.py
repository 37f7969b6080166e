"""Checkpointed BPTT: keep states every K steps, recompute the rest in the backward.

Plain BPTT keeps every step's saved values (the tape), O(T) in memory. Here
the forward runs the sequence in segments of K steps and keeps only the state
entering each segment (``nstate x B x H`` per segment) and the outputs. The
backward walks the segments in reverse: it re-runs one segment's forward from
its stored state, back-propagates through it with the state gradient carried
in from the later segment, and drops that segment's tape. Memory is one
segment's tape plus T/K states; time is one extra forward (about 1.3-1.5x).
This is the scheme of Chen et al. (2016), "Training Deep Nets with Sublinear
Memory Cost", arXiv:1604.06174, applied along time.

Gradients equal plain BPTT's up to summation order (float64: ~1e-15).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import engine


@dataclass
class SegmentTape:
    """What a checkpointed forward keeps: inputs and each segment's entering state."""
    x: np.ndarray
    params: dict
    lengths: np.ndarray
    K: int
    starts: list
    zoneout: np.ndarray = None  # the zoneout mask of the whole sequence, or None
    recurrent_masks: list = None  # the products' input masks (one per sequence), or None
    step_masks: np.ndarray = None  # a variant's per-step masks (candidate dropout), or None


def _segments(T, K):
    return [(t0, min(T, t0 + K)) for t0 in range(0, T, K)]


def _seg_lengths(lengths, t0, t1):
    # a sequence already ended gets length 0: its state is carried, its output is zero
    return np.ascontiguousarray(np.clip(lengths - t0, 0, t1 - t0), dtype=np.int64)


def _zone(zoneout, t0, t1):
    return None if zoneout is None else zoneout[t0:t1]


def forward(spec, params, x, state0, lengths, K, zoneout=None, recurrent_masks=None, step_masks=None):
    """Like :func:`lstmlab.engine.forward`, keeping only the segments' entering states (and the zoneout mask)."""
    T, B, _ = x.shape
    H = state0.shape[2]
    if zoneout is not None:  # each segment checks its rows; the whole mask must be the sequence's
        from .hostside import check_zoneout
        check_zoneout(zoneout, T, B, len(spec.state) * H, x.dtype)
    Y = np.empty((T, B, H), x.dtype)
    starts, st = [], state0
    for t0, t1 in _segments(T, K):
        starts.append(st)
        y, st, tape = engine.forward(spec, params, x[t0:t1], st, _seg_lengths(lengths, t0, t1),
                                     _zone(zoneout, t0, t1), recurrent_masks, _zone(step_masks, t0, t1))
        engine.release(tape)
        Y[t0:t1] = y
    return Y, st, SegmentTape(x, params, lengths, K, starts, zoneout, recurrent_masks, step_masks)


def backward(spec, tape: SegmentTape, dY, dstate):
    """Like :func:`lstmlab.engine.backward`, re-running each segment's forward first."""
    x, T = tape.x, tape.x.shape[0]
    dx = np.empty_like(x)
    grads, ds = {}, dstate
    for k, (t0, t1) in reversed(list(enumerate(_segments(T, tape.K)))):
        _, _, seg = engine.forward(spec, tape.params, x[t0:t1], tape.starts[k],
                                   _seg_lengths(tape.lengths, t0, t1), _zone(tape.zoneout, t0, t1),
                                   tape.recurrent_masks, _zone(tape.step_masks, t0, t1))
        g, dx[t0:t1], ds = engine.backward(spec, seg, np.ascontiguousarray(dY[t0:t1]), ds)
        engine.release(seg)
        for n, v in g.items():
            if n in grads:
                grads[n] += v
            else:
                grads[n] = v
    return grads, dx, ds


def release(tape: SegmentTape) -> None:
    """Nothing is pooled between calls; kept for symmetry with the engine."""
    tape.starts = []
