"""Every negative sampler by name (uniform plus the hard-negative baselines of Table 2) and their constructor."""
from __future__ import annotations

from ..core.safety import SettingsError
from .hard import HARD_SAMPLERS
from .uniform import NegativeSampler, UniformSampler

SAMPLERS = {"uniform": UniformSampler, **HARD_SAMPLERS}


def build_sampler(name: str, dataset, device, seed: int = 0, dim: int | None = None, **kwargs) -> NegativeSampler:
    """Sampler ``name`` for ``dataset``; ``kwargs`` are its hyper-parameters, ``dim`` the model's embedding
    size (passed to samplers with their own layers over the embeddings, e.g. DENS's gates)."""
    key = name.lower()
    if key not in SAMPLERS:
        raise SettingsError(f"--sampler {name!r}: unknown sampler; choose one of {sorted(SAMPLERS)}")
    cls = SAMPLERS[key]
    if dim is not None and getattr(cls, "wants_dim", False):
        kwargs.setdefault("dim", dim)
    try:
        return cls(dataset.train_csr, device=device, seed=seed, **kwargs)
    except TypeError as exc:
        raise SettingsError(f"--sampler-arg for sampler {name!r}: {exc}") from exc
