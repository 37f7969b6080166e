"""Slow, obviously-correct NumPy references, written independently of the engine.

Two kinds:

* ``EQUATIONS``: per built-in variant, one step written from the paper's
  equations with NumPy arrays (no lstmlab code involved);
* ``generic_step``: for any variant (including future and test-defined ones),
  the variant's own pure-Python pointwise functions applied element by element,
  with the recurrent products as NumPy matmuls - checks the engine's wiring.

``run`` drives either over layers, directions and lengths one sequence at a
time (reversing each sequence within its own length), without masks.
"""
import numpy as np


def sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def _split(v, n):
    return np.split(v, n, axis=-1)


def lstm(p, x, s):
    h, c = s
    i, f, g, o = _split(x @ p["W"].T + p["b"] + h @ p["R"].T, 4)
    c = sig(f) * c + sig(i) * np.tanh(g)
    return sig(o) * np.tanh(c), c


def _greff(drop=(), coupled=False, niaf=False, noaf=False, np_=False):
    """Greff et al. (2017) vanilla LSTM with one component removed."""
    blocks = [b for b in "zifo" if b not in drop and not (coupled and b == "f")]

    def step(p, x, s):
        h, c = s
        pre = dict(zip(blocks, _split(x @ p["W"].T + p["b"] + h @ p["R"].T, len(blocks))))
        peep = (lambda k: 0.0) if np_ else (lambda k: p.get("p_" + k, 0.0))
        z = pre["z"] if niaf else np.tanh(pre["z"])
        i = sig(pre["i"] + peep("i") * c) if "i" in blocks else 1.0
        if coupled:
            f = 1.0 - i
        else:
            f = sig(pre["f"] + peep("f") * c) if "f" in blocks else 1.0
        c_new = z * i + c * f
        o = sig(pre["o"] + peep("o") * c_new) if "o" in blocks else 1.0
        return (c_new if noaf else np.tanh(c_new)) * o, c_new
    return step


def fgr(p, x, s):
    h, c, gi, gf, go = s
    z, i, f, o = _split(x @ p["W"].T + p["b"] + h @ p["R"].T, 4)
    ri, rf, ro = _split(np.concatenate([gi, gf, go], -1) @ p["R_gates"].T, 3)
    z = np.tanh(z)
    i = sig(i + ri + p["p_i"] * c)
    f = sig(f + rf + p["p_f"] * c)
    c_new = z * i + c * f
    o = sig(o + ro + p["p_o"] * c_new)
    return np.tanh(c_new) * o, c_new, i, f, o


def gru(p, x, s):
    (h,) = s
    xr, xz, xn = _split(x @ p["W"].T + p["b"], 3)
    hr, hz, hn = _split(h @ p["R"].T + p["b_R"], 3)
    r, z = sig(xr + hr), sig(xz + hz)
    n = np.tanh(xn + r * hn)
    return ((1 - z) * n + z * h,)


def janet(p, x, s):
    (h,) = s
    sf, sc = _split(x @ p["W"].T + p["b"] + h @ p["R"].T, 2)
    return (sig(sf) * h + (1 - sig(sf - 1.0)) * np.tanh(sc),)


def mgu(p, x, s):
    (h,) = s
    xf, xn = _split(x @ p["W"].T + p["b"], 2)
    f = sig(xf + h @ p["R"].T)
    n = np.tanh(xn + (f * h) @ p["R_n"].T)
    return ((1 - f) * h + f * n,)


def rnn(p, x, s):
    (h,) = s
    return (np.tanh(x @ p["W"].T + p["b"] + h @ p["R"].T),)


def irnn(p, x, s):
    (h,) = s
    return (np.maximum(x @ p["W"].T + p["b"] + h @ p["R"].T, 0.0),)


def indrnn(p, x, s):
    (h,) = s
    return (np.maximum(x @ p["W"].T + p["b"] + p["u"] * h, 0.0),)


EQUATIONS = {
    "rnn": rnn, "irnn": irnn, "indrnn": indrnn,
    "lstm": lstm, "peephole": _greff(), "nig": _greff(drop="i"), "nfg": _greff(drop="f"),
    "nog": _greff(drop="o"), "niaf": _greff(niaf=True), "noaf": _greff(noaf=True), "np": _greff(np_=True),
    "cifg": _greff(coupled=True), "fgr": fgr, "gru": gru, "janet": janet, "mgu": mgu,
}


def generic_step(spec):
    """A step of any variant from its own pure-Python pointwise functions."""
    def step(p, x, s):
        H = s[0].shape[-1]
        vals = {name: v for name, v in zip(spec.state, s)}
        xp = x @ p["W"].T + p["b"]
        for k, blk in enumerate(spec.inputs):
            vals["x_" + blk] = xp[..., k * H:(k + 1) * H]
        for u in spec.unit_params:
            vals[u] = p[u]
        new = {}
        for st in spec.stages:
            a = {}
            for prod in st.products:
                src = np.concatenate([vals[n] for n in prod.source], -1)
                out = src @ p[prod.name].T + (p["b_" + prod.name] if prod.bias else 0.0)
                for q, t in enumerate(prod.targets):
                    a[t] = a.get(t, 0.0) + out[..., q * H:(q + 1) * H]
            args = []
            for name, kind, key in st.fwd_args:
                args.append(key if kind == "fixed" else (a[key] if kind == "a" else vals[name]))
            if len(st.outputs) == 1:  # np.vectorize wants a scalar, not a 1-tuple, for one output
                res = (np.vectorize(lambda *a, f=st.forward: f(*a)[0], otypes=[float])(*args),)
            else:
                res = np.vectorize(st.forward, otypes=[float] * len(st.outputs))(*args)
            last = st.index == len(spec.stages) - 1
            for n, o in enumerate(st.outputs):
                if last and n < len(spec.state):
                    new[o] = res[n]
                else:
                    vals[o] = res[n]
        return tuple(new[n] for n in spec.state)
    return step


def run(step, params, x, state, lengths, num_layers, bidirectional):
    """Reference stack. x (T, B, D) float64; state tuple of (L*dirs, B, H).

    Returns (y, final_state) like :meth:`lstmlab.RNN.forward` (time-major).
    """
    T, B, _ = x.shape
    dirs = 2 if bidirectional else 1
    H = state[0].shape[-1]
    final = [np.array(s, dtype=float) for s in state]
    inp = x
    for layer in range(num_layers):
        out = np.zeros((T, B, dirs * H))
        for d in range(dirs):
            k = layer * dirs + d
            prefix = f"layer{layer}" + (".reverse" if d else "")
            p = {n.rsplit(".", 1)[1]: v for n, v in params.items() if n.rsplit(".", 1)[0] == prefix}
            for b in range(B):
                L = int(lengths[b])
                s = tuple(f[k, b:b + 1] for f in final)
                order = range(L - 1, -1, -1) if d else range(L)
                for t in order:
                    s = step(p, inp[t, b:b + 1], s)
                    out[t, b, d * H:(d + 1) * H] = s[0][0]
                for f, v in zip(final, s):
                    f[k, b] = v[0]
        inp = out
    return inp, tuple(final)
