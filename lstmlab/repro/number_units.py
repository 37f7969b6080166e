"""The "number unit" of a trained agreement model (after Lakretz et al. 2019).

For a run of the ``agreement`` task, load its checkpoint, record the cell
state ``c`` (:func:`lstmlab.recording.record`) over fresh held-out sentences
(stratified by attractor count, as the task's held-out set is), and rank the
units by how well their value at the position where the verb is predicted
(the task's ``predict_pos``) separates singular from plural subjects: the
threshold halfway between the two classes' means, and the point-biserial
correlation. The best unit is the number unit; its accuracy on
sentences with attractors says whether it carries the subject, not the most
recent noun, across them.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..recording import record, recordable_names
from ..training import TrainConfig
from ..training import checkpoint as ckpt
from ..training.model import SequenceModel

FILE = "number_units.json"


def analyse_run(run_dir: Path, state: str = "c", n: int = 1000, seed: int = 12345) -> dict | None:
    """The number-unit figures of one finished run (None without a checkpoint or without ``state``)."""
    path = Path(run_dir) / "checkpoint.lstmlab"
    if not path.exists():
        return None
    arrays, meta = ckpt.load(path)
    cfg = TrainConfig.from_dict(meta["config"])
    task = cfg.make_task()
    if cfg.proj_size:  # the projected output state is not a cell's own state
        return None
    model = SequenceModel(task, cfg.variant, cfg.hidden, cfg.layers, dtype=np.dtype(cfg.dtype),
                          layer_norm=cfg.layer_norm)
    model.load_params({k[6:]: v for k, v in arrays.items() if k.startswith("param/")})
    if state not in model.rnn.spec.state:
        return None
    batch = task.sample_stratified(np.random.default_rng(seed), n)
    info = task.parse(batch)
    names = [state] + [g for g in ("f_act", "i_act") if g in recordable_names(model.rnn.spec.cls)]
    rec = record(model.rnn, model.encode(batch), lengths=batch.lengths, names=names)
    top = f"layer{cfg.layers - 1}"
    c = rec[f"{top}.{state}"]
    at_verb = c[info["predict_pos"], np.arange(n)]  # the state the verb's prediction is read from
    y = info["subject"].astype(float)
    m0, m1 = at_verb[y == 0].mean(axis=0), at_verb[y == 1].mean(axis=0)
    pred = (at_verb > (m0 + m1) / 2) == (m1 > m0)
    acc = (pred == (y == 1)[:, None]).mean(axis=0)
    sd = at_verb.std(axis=0) + 1e-12
    r = ((at_verb - at_verb.mean(axis=0)) * (y - y.mean())[:, None]).mean(axis=0) / (sd * y.std())
    unit = int(np.argmax(np.abs(r)))
    attr = info["attractors"] > 0
    out = {"run": Path(run_dir).name, "variant": cfg.variant, "state": state, "units": int(c.shape[2]),
           "unit": unit, "r": float(r[unit]), "accuracy": float(acc[unit]),
           "accuracy_with_attractors": float((pred[:, unit] == (y == 1))[attr].mean()) if attr.any() else None,
           "median_unit_accuracy": float(np.median(acc)), "median_unit_abs_r": float(np.median(np.abs(r))),
           "units_at_95": int((acc >= 0.95).sum()),
           "examples": []}
    # a few sentences with attractors, two of each subject number: the unit's state and gates over time
    for subj in (0, 1):
        for b in np.flatnonzero(attr & (info["subject"] == subj))[:2]:
            L = int(batch.lengths[b])
            ex = {"subject": subj, "subject_pos": int(info["subject_pos"][b]), "attractors": int(info["attractors"][b]),
                  "tokens": batch.inputs[:L, b].tolist()}
            for nm in names:
                ex[nm] = rec[f"{top}.{nm}"][:L, b, unit].tolist()
            out["examples"].append(ex)
    return out


def write(folder: Path, results: list) -> None:
    ckpt.atomic_write_text(Path(folder) / FILE, json.dumps(results, indent=1) + "\n")


def read(folder: Path) -> list:
    p = Path(folder) / FILE
    return json.loads(p.read_text()) if p.exists() else []
