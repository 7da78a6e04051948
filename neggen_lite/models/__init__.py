"""Stage 1, the recommenders, all on one base class (``base.Recommender``): BPR-MF and LightGCN (Eq. 6-7,
``lightgcn``), FREEDOM (``freedom``) and VBPR (``vbpr``); Table 2's other multi-modal baselines MMGCN
(``mmgcn``), BM3 (``bm3``), DRAGON (``dragon``), LGMRec (``lgmrec``) and DiffMM (``diffmm``), with their shared
pieces in ``mmbase``; ``objectives`` holds BPR (Eq. 2) and its negative gradient (Eq. 3) for every model.
Imports only ``core``."""
