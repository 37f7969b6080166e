"""Shared set-up: one thread unless ASV_LSTMLAB_THREADS says otherwise."""
import os

import lstmlab

THREADS = int(os.environ.get("ASV_LSTMLAB_THREADS", "1"))
lstmlab.set_num_threads(THREADS)


def size(text):
    """'T,B,D,H' -> (T, B, D, H); asv parameters stay readable strings."""
    return tuple(int(v) for v in text.split(","))
