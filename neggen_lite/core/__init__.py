"""Stage 0, the ground every other stage stands on (imports nothing above it): the datasets (``data``) and
their item text (``attributes``), the user-item graph of Eq. 6 (``graph``), Recall/NDCG and the paired t-test
(``metrics``), the item-feature container (``features``), the paper's printed numbers (``paper``), the one
file-naming rule (``paths``), the one runtime rule: device, threads, seeds, atomic writes (``runtime``), and
the guards every command shares: expected errors, settings ranges, locks, checksums, safe checkpoints (``safety``)."""
