"""Linzen, Dupoux & Goldberg (2016) and Lakretz et al. (2019): agreement across attractors, and the number unit."""

import numpy as np

from lstmlab.repro import Reproduction, compare, number_units, register_reproduction
from lstmlab.training import TrainConfig

ARMS = ("rnn", "lstm", "gru", "cifg", "nfg")
#: T (the longest subject-verb distance), hidden units, steps, held-out sentences, per budget.
SETUP = {"quick": dict(T=12, hidden=32, steps=1500, eval_size=1000),
         "paper": dict(T=20, hidden=50, steps=6000, eval_size=2000)}


@register_reproduction()
class Linzen2016(Reproduction):
    name = "linzen2016"
    title = "Linzen et al. 2016 / Lakretz et al. 2019: number agreement across attractors, and the number unit"
    paper = ("Linzen, Dupoux & Goldberg 2016, \"Assessing the ability of LSTMs to learn syntax-sensitive "
             "dependencies\", TACL 4, arXiv:1611.01368; Lakretz et al. 2019, \"The emergence of number and syntax "
             "units in LSTM language models\", NAACL, arXiv:1903.07435")
    description = (
        "The synthetic agreement task (lstmlab.tasks.agreement: a subject, then prepositional phrases, relative "
        "clauses and fillers, some of whose nouns have the other number -- attractors -- then the verb, whose "
        "number is predicted). Arms: the tanh RNN, the LSTM, the GRU and two Greff et al. variants (CIFG, NFG: no "
        "forget gate). Adam 3e-3, gradient norm clipped at 1, batch 32. Quick: distances up to T = 12, 32 units, "
        "1,500 steps (48,000 sentences), 2 seeds. Paper budget (ours: the papers used a corpus): T = 20, 50 units, "
        "6,000 steps (192,000 sentences), 3 seeds. Accuracy is measured on held-out sentences at the verb, by "
        "number of attractors, beside the most-recent-noun heuristic; for each trained LSTM-family run the cell "
        "unit whose state entering the verb's step best predicts the subject's number is its 'number unit'.")
    default_seeds = {"quick": 2, "paper": 3}

    def budget_note(self, budget):
        if budget == "quick":
            return ("short runs at distances up to 12: the gated arms learn the agreement and its fall with "
                    "attractors shows; the paper budget (T = 20, 4x the steps) separates the arms further.")
        return "our own budget for a synthetic grammar (the papers trained on corpora); see the description."

    def configs(self, budget, seeds):
        s = SETUP[budget]
        return [TrainConfig(task="agreement", T=s["T"], variant=arm, hidden=s["hidden"], optimizer="adam",
                            lr=3e-3, clip=1.0, batch_size=32, steps=s["steps"], seed=seed,
                            eval_size=s["eval_size"], eval_every=100, checkpoint_every=500,
                            extra={"label": arm})
                for seed in range(seeds) for arm in ARMS]

    # -- figures -------------------------------------------------------------
    @staticmethod
    def by_attractors(g, key="accuracy"):
        """Median over seeds of ``key_k<k>``, for k = 0, 1, ...: a list (NaN where no sentence had k)."""
        ks = sorted({int(m[len(key) + 2:]) for r in g.done for m in r["final"] if m.startswith(f"{key}_k")})
        return [float(np.median([r["final"].get(f"{key}_k{k}", np.nan) for r in g.done])) for k in ks]

    def claims(self, groups):
        out = []
        by = {g.label: g for g in groups.values() if g.done}
        for arm in ("lstm", "gru"):
            if arm in by:
                acc = self.by_attractors(by[arm])
                falls = len(acc) > 1 and acc[0] - acc[-1] > 0.02
                out.append((f"{arm}: near-perfect without attractors, worse as attractors intervene",
                            ("**agrees**" if acc and acc[0] > 0.95 and falls else
                             "**contradicted**" if acc and acc[0] > 0.95 else "**not reproduced at this budget**")
                            + f": accuracy by attractors {', '.join(f'{k}: {a:.3f}' for k, a in enumerate(acc))}"))
        if "lstm" in by:
            lstm = self.by_attractors(by["lstm"])
            recent = self.by_attractors(by["lstm"], "recent_noun_accuracy")
            if len(lstm) > 1:
                beats = all(a > r + 0.05 for a, r in zip(lstm[1:], recent[1:]))
                out.append(("the LSTM does not just follow the most recent noun (it beats that heuristic when "
                            "attractors intervene)", ("**agrees**" if beats else "**not reproduced at this budget**")
                            + ": " + ", ".join(f"{k} attractors {a:.3f} vs heuristic {r:.3f}"
                                               for k, (a, r) in enumerate(zip(lstm, recent)) if k)))
        if "lstm" in by and "rnn" in by:
            out.append(("(ours, not in the papers) the gates matter: the tanh RNN agrees less well than the LSTM",
                        compare(by["lstm"], by["rnn"])))
        units = [u for u in number_units.read(self.folder) if u["variant"] == "lstm"] if self.folder else []
        if units:
            strong = [u for u in units if (u["accuracy_with_attractors"] or 0) > 0.9]
            out.append(("Lakretz et al.: a single cell unit carries the subject's number across attractors",
                        ("**agrees**" if len(strong) * 2 > len(units) else "**not reproduced at this budget**")
                        + ": " + "; ".join(f"seed run {u['run']}: unit {u['unit']} predicts it with accuracy "
                                           f"{u['accuracy']:.3f} ({u['accuracy_with_attractors']:.3f} with "
                                           f"attractors; the median unit {u['median_unit_accuracy']:.3f})"
                                           for u in units)))
        return out

    def sections(self, groups):
        lines = ["## Accuracy at the verb by number of attractors", "",
                 "Median over seeds of the held-out accuracy; the last row is the most-recent-noun heuristic.", ""]
        gs = [g for g in groups.values() if g.done]
        if not gs:
            return []
        K = max(len(self.by_attractors(g)) for g in gs)
        lines += ["| arm | " + " | ".join(f"{k} attractors" for k in range(K)) + " | overall |",
                  "|---|" + "---|" * (K + 1)]
        for g in gs:
            acc = self.by_attractors(g)
            overall = float(np.median([r["final"]["accuracy"] for r in g.done]))
            lines.append(f"| {g.label} | " + " | ".join(f"{a:.3f}" for a in acc) + f" | {overall:.3f} |")
        rec = self.by_attractors(gs[0], "recent_noun_accuracy")
        overall = float(np.median([r["final"]["recent_noun_accuracy"] for r in gs[0].done]))
        lines.append("| most recent noun | " + " | ".join(f"{a:.3f}" for a in rec) + f" | {overall:.3f} |")
        units = number_units.read(self.folder) if self.folder else []
        if units:
            lines += ["", "## The number unit (cell state entering the verb's step)", "",
                      "| run | variant | unit (of H) | r | accuracy | with attractors | median unit |",
                      "|---|---|---|---|---|---|---|"]
            lines += [f"| {u['run']} | {u['variant']} | {u['unit']} ({u['units']}) | {u['r']:.2f} | "
                      f"{u['accuracy']:.3f} | {u['accuracy_with_attractors']:.3f} | {u['median_unit_accuracy']:.3f} |"
                      for u in units]
        return lines

    def prepare(self, records, folder):
        found = []
        for r in records:
            if r.get("status") == "done" and r["config"]["variant"] in ("lstm", "cifg", "nfg"):
                res = number_units.analyse_run(folder / "runs" / r["run_id"])
                if res is not None:
                    found.append(res)
        number_units.write(folder, found)

    def extra_plots(self, groups, folder, plt):
        names = []
        gs = [g for g in groups.values() if g.done]
        if gs:
            fig, ax = plt.subplots(figsize=(6.4, 4.0))
            for i, g in enumerate(gs):
                acc = self.by_attractors(g)
                ax.plot(range(len(acc)), acc, "o-", color=f"C{i}", label=g.label)
            rec = self.by_attractors(gs[0], "recent_noun_accuracy")
            ax.plot(range(len(rec)), rec, "k--", label="most recent noun")
            ax.axhline(0.5, color="grey", lw=0.8, ls=":", label="majority class")
            ax.set_xlabel("attractors between subject and verb")
            ax.set_ylabel("held-out accuracy at the verb")
            ax.set_ylim(0, 1.02)
            ax.set_title("agreement by number of attractors (median over seeds)")
            ax.legend(fontsize=7)
            fig.tight_layout()
            fig.savefig(folder / "agreement-by-attractors.png", dpi=110)
            plt.close(fig)
            names.append("agreement-by-attractors.png")
        units = [u for u in number_units.read(folder) if u["variant"] == "lstm" and u["examples"]]
        if units:
            u = units[0]
            gates = [n for n in ("f_act", "i_act") if n in u["examples"][0]]
            fig, axes = plt.subplots(1 + len(gates), 1, figsize=(6.4, 2.2 * (1 + len(gates))), sharex=True)
            for row, name in enumerate(["c"] + gates):
                ax = axes[row]
                for j, ex in enumerate(u["examples"]):
                    ax.plot(ex[name], color="C0" if ex["subject"] == 0 else "C3", alpha=0.8,
                            label=(("singular" if ex["subject"] == 0 else "plural") + " subject") if j in (0, 2)
                            else None)
                ax.set_ylabel({"c": "cell state", "f_act": "forget gate", "i_act": "input gate"}[name])
                if row == 0:
                    ax.legend(fontsize=7)
                    ax.set_title(f"LSTM number unit {u['unit']} ({u['run']}), sentences with attractors")
            axes[-1].set_xlabel("position in the sentence (0 = 'the', 1 = subject, last = verb)")
            fig.tight_layout()
            fig.savefig(folder / "number-unit.png", dpi=110)
            plt.close(fig)
            names.append("number-unit.png")
        return names
