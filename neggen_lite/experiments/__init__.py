"""Stage 6, experiments: the one run entry ``runs.get(run_spec, mode, device)`` with ``missing``/``ensure``
for a plan (used by the CLI, the notebooks and the benchmarks), FREEDOM/VBPR on item features
(``multimodal``), the Sec. 2 study (``study``), generation as a command runs it (``generate``) and the
plan of the controlled experiment on NegGen's negatives (``neggen_arms``) and chapter 7's plan of
ablations, sweeps and reading checks (``ablations``)."""
