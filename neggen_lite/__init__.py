"""neggen_lite: the numerical core of the NegGen book (Ji et al., ACM MM 2025, arXiv 2501.15183)."""
__version__ = "0.1.0"

from . import data, graph, metrics, models, samplers  # noqa: E402,F401
