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
:func:`ablation_plan` adds Table 5 and Fig. 7 under one of :data:`CAUSAL_OBJECTIVES` (the one chosen on
validation, :func:`neggen_lite.results.experiment.best_objective`; ``plan --ablations``).
"""
from __future__ import annotations

from ..neggen.causal import NEGGEN_VARIANTS, NegGenConfig
from ..neggen.train import SWEEPS
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


#: the ranking objectives with a causal module: Table 5's variants and Fig. 7's lambda, alpha, tau apply to them
CAUSAL_OBJECTIVES = ("joint", "repaired")
#: the seed of the Fig. 7 sweeps (as chapter 7's sweeps of Eq. 19-21 as printed)
SWEEP_SEED = 2025


def ablation_plan(dataset: str, objective: str, seeds=None, sweep_seed: int = SWEEP_SEED) -> list[RunSpec]:
    """Table 5 and Fig. 7 redone under ``objective`` (one of :data:`CAUSAL_OBJECTIVES`), language-model
    negatives: the variants *w/o CF* and *w/o both* for every seed of ``seeds`` (default :data:`SEEDS`; *full*
    and *w/o NEG* are :func:`plan`'s ``generated`` and ``w/o NEG`` arms), then each value of the paper's grids
    (:data:`neggen_lite.neggen.train.SWEEPS`) at ``sweep_seed``, except a value equal to the default, whose run
    is the ``generated`` arm of that seed."""
    if objective not in CAUSAL_OBJECTIVES:
        raise ValueError(f"objective must be one of {CAUSAL_OBJECTIVES} (Table 5 and Fig. 7 need the causal "
                         f"module), got {objective!r}")
    seeds = tuple(seeds) if seeds else SEEDS.get(dataset, (SWEEP_SEED,))
    settings = (("objective", objective),)
    out = [RunSpec(dataset, "neggen", seed=seed, variant=v, settings=settings)
           for seed in seeds for v in NEGGEN_VARIANTS if v not in ("full", "w/o NEG")]
    default = NegGenConfig()
    out += [RunSpec(dataset, "neggen", seed=sweep_seed, settings=settings, sweep=(param, value))
            for param, grid in SWEEPS.items() for value in grid if value != getattr(default, param)]
    return out
