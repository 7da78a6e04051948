"""neggen_lite: the numerical core of the NegGen book (Ji et al., ACM MM 2025, arXiv 2501.15183).

Stages, each importing only those before it: ``core`` -> ``models`` -> ``samplers`` -> ``training`` ->
``generation`` -> ``neggen`` -> ``experiments`` -> ``results`` -> ``cli``."""
__version__ = "0.1.0"
