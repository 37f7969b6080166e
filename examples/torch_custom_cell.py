"""A user-written gate variant inside a PyTorch model, side by side with torch.nn.LSTM.

The variant (a forget-gated RNN, forward maths only: lstmlab derives its
backward) becomes a torch module with ``lstmlab.torch.module_class``; the model
around it is plain PyTorch, trained with ``torch.optim.Adam`` on lstmlab's
adding task (Le et al. 2015: two marked values among T, predict their sum; a
model that remembers nothing scores MSE 1/6)::

    python examples/torch_custom_cell.py               # about a minute on 2 cores
    python examples/torch_custom_cell.py --T 100 --steps 3000
"""
import argparse
import time

import numpy as np
import torch
from torch import nn

import lstmlab
import lstmlab.torch
from lstmlab.scalar import sigmoid, tanh
from lstmlab.tasks import make_task


@lstmlab.register("forget_gated_rnn")
class ForgetGatedRNN(lstmlab.Variant):
    """h_t = f * h_{t-1} + (1 - f) * tanh(x_u + a_u), f = sigma(x_f + a_f); the backward is derived."""
    reference = "this example"
    inputs, state, forget_block = ("f", "u"), ("h",), "f"

    @staticmethod
    def forward(x_f, x_u, a_f, a_u, h):
        f = sigmoid(x_f + a_f)
        return (f * h + (1.0 - f) * tanh(x_u + a_u),)


class Model(nn.Module):
    """A recurrent layer, then a linear read-out of its last output."""

    def __init__(self, rnn: nn.Module, hidden: int):
        super().__init__()
        self.rnn, self.head = rnn, nn.Linear(hidden, 1)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.head(y[-1])


def train(model, task, steps, seed, lr):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    held = task.batch(np.random.default_rng(12345), 1000)
    hx, hy = torch.from_numpy(held.inputs).float(), torch.from_numpy(held.targets).float()
    t0 = time.perf_counter()
    for _ in range(steps):
        b = task.batch(rng, 32)
        x, y = torch.from_numpy(b.inputs).float(), torch.from_numpy(b.targets).float()
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        mse = float(((model(hx) - hy) ** 2).mean())
    return mse, seconds


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--T", type=int, default=50, help="sequence length of the adding task (default 50)")
    p.add_argument("--steps", type=int, default=1500, help="Adam steps per model (default 1500)")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    lstmlab.set_num_threads(1)
    task = make_task("adding", args.T)
    D, H = task.feature_size, args.hidden
    torch.manual_seed(args.seed)
    models = {"forget_gated_rnn (lstmlab, in torch)": Model(lstmlab.torch.module_class("forget_gated_rnn")(D, H), H),
              "torch.nn.LSTM": Model(nn.LSTM(D, H), H)}
    print(f"adding task, T = {args.T}: baseline MSE {task.baseline():.4f} (predict the mean, remember nothing); "
          f"{args.steps} Adam steps, batch 32, {H} units")
    results = {}
    for name, model in models.items():
        mse, seconds = train(model, task, args.steps, args.seed, 3e-3)
        results[name] = mse
        print(f"  {name:40s} held-out MSE {mse:.4f} ({mse / task.baseline():.3f}x the baseline), "
              f"{1e3 * seconds / args.steps:.2f} ms per step")
    return results


if __name__ == "__main__":
    main()
