"""The controlled experiment on NegGen's negatives: per objective that can rank real items (``joint``,
``repaired``, ``sampler``; :mod:`neggen_lite.neggen.objectives`), the same arms --

* ``generated``: the language model's three-step negatives (``generator="auto"``),
* ``direct``: its Direct Generation negatives (Sec. 2.1),
* ``rule``: rule-based negatives (masked and refilled from the dataset's own words),
* ``w/o NEG``: another item's attributes in place of the negative,

and ``beta = 0`` of ``repaired``, which is ``joint``. Each arm is compared with the same-seed LightGCN,
with the rule-based arm and with the best baseline we ran, per user (paired t-tests).

:func:`plan` lists the runs as :class:`~neggen_lite.experiments.runs.RunSpec`; ``runs.missing`` /
``runs.ensure`` / ``runs.command_line`` run or print them (``python -m neggen_lite plan``).
"""
from __future__ import annotations

from .runs import RunSpec

OBJECTIVES = ("joint", "repaired", "sampler")
#: (generator, variant) per arm; ``sampler`` has no causal module, so no *w/o NEG* arm
ARMS = {"generated": ("auto", "full"), "direct": ("direct", "full"), "rule": ("rule", "full"),
        "w/o NEG": ("auto", "w/o NEG")}
#: the issue's seeds: Baby 5, Beauty 3
SEEDS = {"baby": (2025, 2026, 2027, 2028, 2029), "beauty": (2025, 2026, 2027)}


def plan(dataset: str, seeds=None, objectives=OBJECTIVES, arms=tuple(ARMS)) -> list[RunSpec]:
    """Every run of the experiment for ``dataset``: objectives x arms x seeds (seed-major, so the first
    seed of every arm comes first)."""
    seeds = tuple(seeds) if seeds else SEEDS.get(dataset, (2025,))
    out = []
    for seed in seeds:
        for objective in objectives:
            for arm in arms:
                if objective == "sampler" and arm == "w/o NEG":
                    continue
                generator, variant = ARMS[arm]
                out.append(RunSpec(dataset, "neggen", seed=seed, variant=variant, generator=generator,
                                   settings=(("objective", objective),)))
    return out
