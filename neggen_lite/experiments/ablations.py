"""Chapter 7's runs as one plan: Table 5's four NegGen variants for several seeds, the Fig. 7 sweeps (the
paper's grids, one seed) and the two checks of our readings (Eq. 20 as printed, a fine-tuned base; one
seed). :func:`plan` lists them as labelled :class:`~neggen_lite.experiments.runs.RunSpec`; ``runs.missing``
and ``runs.ensure`` say which have no committed record and train those (``python -m neggen_lite train`` /
``sweep`` make the same files)."""
from __future__ import annotations

from ..neggen.causal import NEGGEN_VARIANTS
from ..neggen.train import SWEEPS
from .runs import RunSpec

#: the reading checks of chapter 5, one changed setting each
READINGS = (("align", "printed"), ("base", "finetune"))


def plan(dataset: str, seed: int = 2025, seeds=None, generator: str = "auto") -> list[tuple[str, RunSpec]]:
    """``[(group, spec)]`` for ``dataset``: group ``"Table 5: <variant>"`` for each variant and seed of
    ``seeds`` (default ``seed, seed + 1, seed + 2``), ``"Fig. 7: <param>"`` for each value of the paper's
    grids at ``seed``, and ``"reading: <key>=<value>"`` for the two reading checks at ``seed``."""
    seeds = tuple(seeds) if seeds else (seed, seed + 1, seed + 2)
    out = [(f"Table 5: {v}", RunSpec(dataset, "neggen", seed=s, variant=v, generator=generator))
           for v in NEGGEN_VARIANTS for s in seeds]
    out += [(f"Fig. 7: {param}", RunSpec(dataset, "neggen", seed=seed, generator=generator, sweep=(param, value)))
            for param, grid in SWEEPS.items() for value in grid]
    out += [(f"reading: {k}={v}", RunSpec(dataset, "neggen", seed=seed, generator=generator, settings=((k, v),)))
            for k, v in READINGS]
    return out
