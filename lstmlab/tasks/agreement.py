"""Subject-verb number agreement across attractors (after Linzen, Dupoux & Goldberg 2016)."""
from __future__ import annotations

import math

import numpy as np

from .base import _HELDOUT_STREAM, Batch, Task, register_task

#: Noun stems; each has a singular and a plural token.
N_STEMS = 6
THE, THAT = 0, 1                         # "the", "that"
PREPS = (2, 3, 4)                        # "near", "behind", "of"
FILLERS = (5, 6, 7, 8)                   # number-neutral words: "old", "big", "very", "now"
NOUN0 = 9                                # nouns: NOUN0 + 2 * stem + number (0 singular, 1 plural)
RC_VERB0 = NOUN0 + 2 * N_STEMS           # a relative clause's own verb: RC_VERB0 + number (agrees with its noun)
VERB = RC_VERB0 + 2                      # the verb position, where objective "number" predicts
VERB_FORM0 = VERB + 1                    # the main verb's forms (objective "lm"): VERB_FORM0 + number
N_SYMBOLS = VERB + 1                     # input symbols (the verb's forms are never an input)
N_TOKENS = VERB_FORM0 + 2                # the language model's output classes
PP_LEN, RC_LEN = 3, 4                    # "near the NOUN"; "that the NOUN VERB-agreeing-with-NOUN"
OBJECTIVES = ("lm", "number")
#: Sentences the language model's unigram baseline is estimated from (a fixed stream of its own).
_UNIGRAM_SENTENCES = 4000


@register_task("agreement")
class Agreement(Task):
    r"""Choose the verb's number from a subject seen several words earlier, across attractors.

    Grammar (token sequences; one sentence per sequence, time-major)::

        sentence := preamble "the" SUBJECT span VERB
        preamble := PP^m                      m uniform in [0, preamble]: fronted phrases
        span     := chunk* filler*            (shuffled: chunks and fillers in random order)
        chunk    := PP | RC
        PP       := PREP "the" NOUN           PREP in {near, behind, of}
        RC       := "that" "the" NOUN V(NOUN) the clause's own verb, agreeing with its NOUN
        filler   := one of 4 number-neutral words

    SUBJECT and every NOUN are one of 6 stems in the singular or the plural;
    the subject's number is a fair coin. The preamble ("near the dogs, the
    cat ...") makes the subject's position vary, so neither the first nor the
    most recent noun is always the subject; its nouns' numbers are fair coins.
    The *distance* is the span's length (tokens between the subject and
    VERB), uniform in ``[min_distance, T]``. The span holds ``n`` intervening
    nouns, one per chunk, ``n`` uniform in ``[0, min(max_nouns, distance // 3)]``;
    a relative clause is used where it still fits, half the time. The
    *attractors* are the intervening nouns of the number opposite to the
    subject's (preamble nouns do not count). Inside a relative clause the verb
    agrees with the clause's noun, so an attractor there is doubled by a verb
    of the other number, as in natural text.

    Numbers of intervening nouns. Training batches (:meth:`sample`) draw each
    one independently: opposite to the subject with probability
    ``attractor_rate`` (default 0.3: as in text, most intervening nouns agree
    with the subject, so the most recent noun is a tempting cue), redrawn
    until at most ``max_attractors``. The held-out set (:meth:`heldout`) is
    stratified instead: the attractor count ``k`` uniform in
    ``[0, min(max_attractors, n that fit)]``, then ``n`` uniform in
    ``[k, max that fit]``, so every count is measured on enough sentences.

    Objectives (``objective``):

    - ``"lm"`` (default; Linzen et al.'s language-model setting, in which
      Lakretz et al. 2019 found their number units): the input is the
      sentence up to the verb, the target at every position is the next
      token, and the last one is the verb in the subject's number
      (``VERB_FORM0 + number``); loss: the mean cross-entropy over every
      position. Agreement counts as right when the model gives the right verb
      form a higher score than the wrong one (Linzen et al.'s comparison of
      the two forms' probabilities). Baseline: the cross-entropy of the
      unigram distribution of next tokens (estimated on 4,000 sentences of a
      fixed stream), the loss of a predictor that remembers nothing.
    - ``"number"`` (their number-prediction task): the input ends with the
      VERB token, the target there (weight 1; every other position weight 0)
      is the subject's number, class 0 singular, 1 plural. Baseline: the
      majority class, loss ln 2.

    Heuristic baselines, computed from each batch: the *most recent noun*
    (the number of the last noun before the verb; right exactly when that
    noun is not an attractor) and the *first noun* (wrong when a preamble
    noun of the other number comes first); the majority class scores 1/2.
    Metrics: ``accuracy`` overall, per number of attractors
    (``accuracy_k<k>``) and per distance quartile of ``[min_distance, T]``
    (``accuracy_d<q>``), the heuristics' (``recent_noun_accuracy``,
    ``recent_noun_accuracy_k<k>``, ``first_noun_accuracy``).

    Linzen, Dupoux & Goldberg (2016), "Assessing the ability of LSTMs to learn
    syntax-sensitive dependencies", TACL 4, arXiv:1611.01368: agreement
    accuracy falls as attractors intervene, most under the language-model
    objective. This grammar is ours, small and synthetic (their data was a
    corpus).
    """

    reference = "after Linzen, Dupoux & Goldberg 2016 (arXiv:1611.01368); synthetic grammar"
    description = ("choose the verb's number from the subject across up to T words with attractors "
                   "(objective lm: next-token xent; number: xent at the verb)")
    n_symbols = N_SYMBOLS
    output_size = N_TOKENS
    readout = "every"
    loss = "xent"
    min_T = 3
    max_T = 10_000
    baseline_rule = ("lm: the unigram next-token cross-entropy; number: the majority class at the verb, ln 2 "
                     "(the verb token alone says nothing of the number)")
    solved_rule = "held-out agreement accuracy >= 0.99"

    def __init__(self, T: int, *, objective: str = "lm", preamble: int = 2, attractor_rate: float = 0.3,
                 max_attractors: int | None = None, max_nouns: int = 4, min_distance: int | None = None):
        super().__init__(T)
        if objective not in OBJECTIVES:
            raise ValueError(f"objective: expected one of {', '.join(map(repr, OBJECTIVES))}, got {objective!r}")
        for name, v in (("max_nouns", max_nouns), ("preamble", preamble)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 0:
                raise ValueError(f"{name}: expected a non-negative int, got {v!r}")
        if max_attractors is None:  # as many as the span holds, up to 4
            max_attractors = min(4, int(max_nouns), T // PP_LEN)
        if not isinstance(max_attractors, (int, np.integer)) or isinstance(max_attractors, bool) \
                or max_attractors < 0:
            raise ValueError(f"max_attractors: expected a non-negative int, got {max_attractors!r}")
        if max_attractors > max_nouns:
            raise ValueError(f"max_attractors: at most max_nouns={max_nouns} (an attractor is an intervening "
                             f"noun), got {max_attractors}")
        if max_attractors * PP_LEN > T:
            raise ValueError(f"max_attractors: {max_attractors} attractors need a span of at least "
                             f"{max_attractors * PP_LEN} tokens (T), got T={T}")
        if not (isinstance(attractor_rate, (int, float, np.floating)) and not isinstance(attractor_rate, bool)
                and 0.0 <= attractor_rate <= 1.0):
            raise ValueError(f"attractor_rate: expected a probability in [0, 1], got {attractor_rate!r}")
        lo = max(1, T // 4) if min_distance is None else min_distance
        if not isinstance(lo, (int, np.integer)) or isinstance(lo, bool) or not 1 <= lo <= T:
            raise ValueError(f"min_distance: expected an int in [1, T={T}], got {min_distance!r}")
        self.objective, self.preamble, self.attractor_rate = objective, int(preamble), float(attractor_rate)
        self.max_attractors, self.max_nouns, self.min_distance = int(max_attractors), int(max_nouns), int(lo)
        self.output_size = N_TOKENS if objective == "lm" else 2
        self._unigram = None

    def seq_len(self) -> int:
        # preamble, "the", SUBJECT, span, VERB (the language model's input stops before the verb)
        return PP_LEN * self.preamble + self.T + (2 if self.objective == "lm" else 3)

    @property
    def max_dependency(self) -> int:
        return self.T + 1

    def baseline(self) -> float:
        if self.objective == "number":
            return math.log(2.0)
        if self._unigram is None:
            b = self._batch(np.random.default_rng([_HELDOUT_STREAM, 1]), _UNIGRAM_SENTENCES, stratified=False)
            counts = np.bincount(b.targets[b.weights > 0], minlength=N_TOKENS).astype(np.float64)
            p = counts[counts > 0] / counts.sum()
            self._unigram = float(-(p * np.log(p)).sum())
        return self._unigram

    def is_solved(self, final):
        return final.get("accuracy", 0.0) >= 0.99

    # -- generation ------------------------------------------------------------
    def _numbers(self, rng, subj, fit, stratified):
        """Numbers of the intervening nouns (their count: the list's length)."""
        if stratified:
            k = int(rng.integers(0, min(self.max_attractors, fit) + 1))
            n = int(rng.integers(k, fit + 1))
            numbers = [1 - subj] * k + [subj] * (n - k)
            rng.shuffle(numbers)
            return numbers
        n = int(rng.integers(0, fit + 1))
        while True:  # redraw until at most max_attractors: the distribution conditioned on that
            flips = rng.random(n) < self.attractor_rate
            if flips.sum() <= self.max_attractors:
                return [1 - subj if f else subj for f in flips]

    def _sentence(self, rng, stratified=False):
        """(tokens, subject number, attractors, distance) of one sentence, VERB last."""
        d = int(rng.integers(self.min_distance, self.T + 1))
        subj = int(rng.integers(0, 2))
        numbers = self._numbers(rng, subj, min(self.max_nouns, d // PP_LEN), stratified)
        m = int(rng.integers(0, self.preamble + 1)) if self.preamble else 0
        # every remaining random choice drawn at once: stems, prepositions, fillers, RC coins, order keys
        stems = rng.integers(0, N_STEMS, len(numbers) + m + 1)
        preps = rng.integers(0, len(PREPS), len(numbers) + m)
        fill = rng.integers(0, len(FILLERS), d)
        coins = rng.random(len(numbers))
        tokens = []
        for i in range(m):
            tokens += [PREPS[preps[len(numbers) + i]], THE, NOUN0 + 2 * int(stems[1 + len(numbers) + i])
                       + int(rng.integers(0, 2))]
        tokens += [THE, NOUN0 + 2 * int(stems[0]) + subj]
        chunks, used, left = [], 0, len(numbers)
        for i, num in enumerate(numbers):  # a relative clause where it still fits, else a prepositional phrase
            noun = NOUN0 + 2 * int(stems[1 + i]) + num
            left -= 1
            if used + RC_LEN + left * PP_LEN <= d and coins[i] < 0.5:
                chunks.append((THAT, THE, noun, RC_VERB0 + num))
                used += RC_LEN
            else:
                chunks.append((PREPS[preps[i]], THE, noun))
                used += PP_LEN
        pieces = chunks + [(FILLERS[f],) for f in fill[:d - used]]
        for i in np.argsort(rng.random(len(pieces)), kind="stable"):
            tokens += pieces[i]
        tokens.append(VERB)
        return tokens, subj, sum(1 for x in numbers if x != subj), d

    def _batch(self, rng, batch_size, stratified):
        L = self.seq_len()
        inputs = np.full((L, batch_size), THE, np.int64)
        targets = np.zeros((L, batch_size), np.int64)
        weights = np.zeros((L, batch_size))
        lengths = np.empty(batch_size, np.int64)
        lm = self.objective == "lm"
        for b in range(batch_size):
            tokens, subj, _, _ = self._sentence(rng, stratified)
            n = len(tokens)
            if lm:  # next-token targets; the last one is the verb in the subject's number
                inputs[:n - 1, b] = tokens[:-1]
                targets[:n - 2, b] = tokens[1:-1]
                targets[n - 2, b] = VERB_FORM0 + subj
                weights[:n - 1, b] = 1.0
                lengths[b] = n - 1
            else:
                inputs[:n, b] = tokens
                targets[n - 1, b] = subj
                weights[n - 1, b] = 1.0
                lengths[b] = n
        return Batch(inputs, targets, lengths, weights)

    def sample(self, rng, batch_size):
        return self._batch(rng, batch_size, stratified=False)

    def sample_stratified(self, rng, batch_size):
        """A batch drawn as the held-out set is: stratified by attractor count (see the class docstring)."""
        return self._batch(rng, batch_size, stratified=True)

    def heldout_batch(self, rng, batch_size):
        """The held-out set's batches are stratified by attractor count (see the class docstring)."""
        return self.sample_stratified(rng, batch_size)

    # -- reading a batch back ------------------------------------------------------
    @staticmethod
    def parse(batch: Batch) -> dict:
        """Per sentence, recomputed from the tokens alone.

        ``subject`` (its number), ``subject_pos``, ``attractors``, ``distance``,
        ``recent`` (the last noun's number before the verb), ``first`` (the
        first noun's number) and ``predict_pos``: the output position that
        predicts the verb's number (the last input of the sentence in both
        objectives). The subject is the first noun whose "the" does not follow
        a preposition or "that".
        """
        B = batch.size
        keys = ("subject", "subject_pos", "attractors", "distance", "recent", "first", "predict_pos")
        out = {k: np.empty(B, np.int64) for k in keys}
        for b in range(B):
            n = int(batch.lengths[b]) if batch.lengths is not None else batch.inputs.shape[0]
            toks = batch.inputs[:n, b]
            is_noun = (toks >= NOUN0) & (toks < RC_VERB0)
            nouns = np.flatnonzero(is_noun)
            s = next(int(i) for i in nouns if i < 2 or toks[i - 2] not in PREPS and toks[i - 2] != THAT)
            subj = int(toks[s] - NOUN0) % 2
            after = [int(toks[i] - NOUN0) % 2 for i in nouns if i > s]
            end = n - 1 if toks[n - 1] == VERB else n  # the verb's index
            out["subject"][b], out["subject_pos"][b], out["predict_pos"][b] = subj, s, n - 1
            out["distance"][b] = end - s - 1
            out["attractors"][b] = sum(1 for x in after if x != subj)
            out["recent"][b] = after[-1] if after else subj
            out["first"][b] = int(toks[nouns[0]] - NOUN0) % 2
        return out

    def verb_scores(self, outputs, positions):
        """(B, 2) scores of singular and plural at each sentence's ``positions`` (logits or log-probabilities)."""
        z = outputs[positions, np.arange(len(positions))]
        return z[:, VERB_FORM0:VERB_FORM0 + 2] if self.objective == "lm" else z[:, :2]

    def metrics(self, outputs, batch):
        info = self.parse(batch)
        scores = self.verb_scores(outputs, info["predict_pos"])
        pred = (scores[:, 1] > scores[:, 0]).astype(np.int64)
        right = pred == info["subject"]
        recent = info["recent"] == info["subject"]
        # sums over the batch, and (sum, count) pairs for subsets (see lstmlab.training.loop.evaluate)
        out = {"accuracy": float(right.sum()), "recent_noun_accuracy": float(recent.sum()),
               "first_noun_accuracy": float((info["first"] == info["subject"]).sum())}
        for k in range(self.max_attractors + 1):
            sel = info["attractors"] == k
            out[f"accuracy_k{k}"] = (float(right[sel].sum()), int(sel.sum()))
            out[f"recent_noun_accuracy_k{k}"] = (float(recent[sel].sum()), int(sel.sum()))
        for i, sel in enumerate(self.distance_quartiles(info["distance"])):
            out[f"accuracy_d{i}"] = (float(right[sel].sum()), int(sel.sum()))
        return out

    def distance_quartiles(self, distance):
        """Four boolean masks: distances in each quarter of ``[min_distance, T]``."""
        edges = np.linspace(self.min_distance, self.T + 1, 5)
        q = np.clip(np.searchsorted(edges, distance, side="right") - 1, 0, 3)
        return [q == i for i in range(4)]
