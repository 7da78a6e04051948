"""Stage 2, negative samplers: uniform sampling and the positive index (``uniform``), the hard-negative
baselines of Table 2 -- DNS, MixGCF, DENS, AHNS, IRGAN (``hard``) -- and every sampler by name (``registry``).
Imports ``core`` and ``models``."""
