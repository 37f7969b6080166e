"""Subject-verb number agreement across attractors (after Linzen, Dupoux & Goldberg 2016)."""
from __future__ import annotations

import math

import numpy as np

from .base import Batch, Task, register_task

#: Noun stems; each has a singular and a plural token.
N_STEMS = 6
THE, THAT, VERB = 0, 1, 2               # "the", "that", and the verb position the model predicts at
PREPS = (3, 4, 5)                        # "near", "behind", "of"
FILLERS = (6, 7, 8, 9)                   # number-neutral words: "old", "big", "very", "now"
NOUN0 = 10                               # nouns: NOUN0 + 2 * stem + number (0 singular, 1 plural)
RC_VERB0 = NOUN0 + 2 * N_STEMS           # the relative clause's own verb: RC_VERB0 + number (agrees with its noun)
N_SYMBOLS = RC_VERB0 + 2
PP_LEN, RC_LEN = 3, 4                    # "near the NOUN"; "that the NOUN VERB-agreeing-with-NOUN"


@register_task("agreement")
class Agreement(Task):
    r"""Predict the verb's number from a subject seen several words earlier, across attractors.

    Grammar (token sequences; one sentence per sequence, time-major)::

        sentence := "the" SUBJECT span VERB
        span     := chunk* filler*            (shuffled: chunks and fillers in random order)
        chunk    := PP | RC
        PP       := PREP "the" NOUN           PREP in {near, behind, of}
        RC       := "that" "the" NOUN V(NOUN) the clause's own verb, agreeing with its NOUN
        filler   := one of 4 number-neutral words

    SUBJECT and every NOUN are one of 6 stems in the singular or the plural.
    The *distance* is the number of tokens between the subject and VERB (the
    span's length), drawn uniformly from ``[min_distance, T]``; the span holds
    up to ``max_nouns`` intervening nouns (one per chunk, as many as fit), of
    which ``k`` have the number opposite to the subject's: the *attractors*,
    ``k`` drawn uniformly from ``[0, min(max_attractors, nouns that fit)]``
    (``max_attractors`` defaults to as many as the span holds, up to 4).
    The subject's number is a fair coin. Inside a relative clause the verb
    agrees with the clause's noun, so an attractor there is doubled by a verb
    of the wrong number, as in natural text.

    Target: at the VERB position only (weight 1; every other position has
    weight 0), the subject's number: class 0 singular, 1 plural. The loss is
    the cross-entropy there.

    Baselines: the majority class (accuracy 0.5; loss ln 2, the memoryless
    baseline: the VERB token alone says nothing about the number) and the
    *most recent noun* heuristic (the number of the last noun before VERB),
    which is right exactly when the last intervening noun is not an attractor;
    its accuracy is computed from each batch (``recent_noun_accuracy``).
    Metrics: accuracy overall, per number of attractors (``accuracy_k<k>``)
    and per distance quartile of ``[min_distance, T]`` (``accuracy_d<q>``).

    Linzen, Dupoux & Goldberg (2016), "Assessing the ability of LSTMs to learn
    syntax-sensitive dependencies", TACL 4, arXiv:1611.01368: agreement
    accuracy falls as attractors intervene. This grammar is ours, small and
    synthetic (their data was a corpus).
    """

    reference = "after Linzen, Dupoux & Goldberg 2016 (arXiv:1611.01368); synthetic grammar"
    description = "predict the verb's number from the subject across T words with attractors; xent at the verb"
    n_symbols = N_SYMBOLS
    output_size = 2
    readout = "every"
    loss = "xent"
    min_T = 3
    max_T = 10_000
    baseline_rule = "majority class at the verb (the verb token says nothing of the number): ln 2"
    solved_rule = "held-out accuracy >= 0.99 at the verb"

    def __init__(self, T: int, *, max_attractors: int | None = None, max_nouns: int = 4,
                 min_distance: int | None = None):
        super().__init__(T)
        if max_attractors is None:  # as many as the span holds, up to 4
            max_attractors = min(4, max_nouns if isinstance(max_nouns, int) and max_nouns >= 0 else 4,
                                 T // PP_LEN)
        for name, v in (("max_attractors", max_attractors), ("max_nouns", max_nouns)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 0:
                raise ValueError(f"{name}: expected a non-negative int, got {v!r}")
        if max_attractors > max_nouns:
            raise ValueError(f"max_attractors: at most max_nouns={max_nouns} (an attractor is an intervening "
                             f"noun), got {max_attractors}")
        if max_attractors * PP_LEN > T:
            raise ValueError(f"max_attractors: {max_attractors} attractors need a span of at least "
                             f"{max_attractors * PP_LEN} tokens (T), got T={T}")
        lo = max(1, T // 4) if min_distance is None else min_distance
        if not isinstance(lo, (int, np.integer)) or isinstance(lo, bool) or not 1 <= lo <= T:
            raise ValueError(f"min_distance: expected an int in [1, T={T}], got {min_distance!r}")
        self.max_attractors, self.max_nouns, self.min_distance = int(max_attractors), int(max_nouns), int(lo)

    def seq_len(self) -> int:
        return self.T + 3  # "the", SUBJECT, span, VERB

    @property
    def max_dependency(self) -> int:
        return self.T + 1

    def baseline(self) -> float:
        return math.log(2.0)

    def is_solved(self, final):
        return final.get("accuracy", 0.0) >= 0.99

    # -- generation ------------------------------------------------------------
    def _sentence(self, rng):
        """(tokens, subject number, attractors, distance) of one sentence."""
        d = int(rng.integers(self.min_distance, self.T + 1))
        fit = min(self.max_nouns, d // PP_LEN)
        k = int(rng.integers(0, min(self.max_attractors, fit) + 1))
        n = int(rng.integers(k, fit + 1)) if fit > k else k
        subj = int(rng.integers(0, 2))
        numbers = [1 - subj] * k + [subj] * (n - k)
        rng.shuffle(numbers)
        chunks, used = [], 0
        for num in numbers:  # a relative clause where it still fits, else a prepositional phrase
            noun = NOUN0 + 2 * int(rng.integers(0, N_STEMS)) + num
            if used + RC_LEN + (len(numbers) - len(chunks) - 1) * PP_LEN <= d and rng.random() < 0.5:
                chunks.append([THAT, THE, noun, RC_VERB0 + num])
                used += RC_LEN
            else:
                chunks.append([int(rng.choice(PREPS)), THE, noun])
                used += PP_LEN
        fillers = [[int(rng.choice(FILLERS))] for _ in range(d - used)]
        pieces = chunks + fillers
        order = rng.permutation(len(pieces))
        span = [tok for i in order for tok in pieces[i]]
        tokens = [THE, NOUN0 + 2 * int(rng.integers(0, N_STEMS)) + subj] + span + [VERB]
        return tokens, subj, k, d

    def sample(self, rng, batch_size):
        L = self.seq_len()
        inputs = np.full((L, batch_size), THE, np.int64)
        targets = np.zeros((L, batch_size), np.int64)
        weights = np.zeros((L, batch_size))
        lengths = np.empty(batch_size, np.int64)
        for b in range(batch_size):
            tokens, subj, _, _ = self._sentence(rng)
            n = len(tokens)
            inputs[:n, b] = tokens
            targets[n - 1, b] = subj
            weights[n - 1, b] = 1.0
            lengths[b] = n
        return Batch(inputs, targets, lengths, weights)

    # -- reading a batch back ------------------------------------------------------
    @staticmethod
    def parse(batch: Batch) -> dict:
        """Per sentence, recomputed from the tokens: subject number, attractors, distance, last noun's number."""
        B = batch.size
        out = {k: np.empty(B, np.int64) for k in ("subject", "attractors", "distance", "recent", "verb_pos")}
        for b in range(B):
            n = int(batch.lengths[b]) if batch.lengths is not None else batch.inputs.shape[0]
            toks = batch.inputs[:n, b]
            subj = int(toks[1] - NOUN0) % 2
            nouns = [int(t - NOUN0) % 2 for t in toks[2:n - 1] if NOUN0 <= t < RC_VERB0]
            out["subject"][b], out["distance"][b], out["verb_pos"][b] = subj, n - 3, n - 1
            out["attractors"][b] = sum(1 for x in nouns if x != subj)
            out["recent"][b] = nouns[-1] if nouns else subj
        return out

    def metrics(self, outputs, batch):
        info = self.parse(batch)
        B = batch.size
        pred = outputs[info["verb_pos"], np.arange(B)].argmax(axis=-1)
        right = pred == info["subject"]
        # sums over the batch, and (sum, count) pairs for subsets (see lstmlab.training.loop.evaluate)
        out = {"accuracy": float(right.sum()),
               "recent_noun_accuracy": float((info["recent"] == info["subject"]).sum())}
        for k in range(self.max_attractors + 1):
            sel = info["attractors"] == k
            out[f"accuracy_k{k}"] = (float(right[sel].sum()), int(sel.sum()))
            out[f"recent_noun_accuracy_k{k}"] = (float((info["recent"] == info["subject"])[sel].sum()),
                                                 int(sel.sum()))
        for i, sel in enumerate(self.distance_quartiles(info["distance"])):
            out[f"accuracy_d{i}"] = (float(right[sel].sum()), int(sel.sum()))
        return out

    def distance_quartiles(self, distance):
        """Four boolean masks: distances in each quarter of ``[min_distance, T]``."""
        edges = np.linspace(self.min_distance, self.T + 1, 5)
        q = np.clip(np.searchsorted(edges, distance, side="right") - 1, 0, 3)
        return [q == i for i in range(4)]
