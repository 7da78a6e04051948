"""Stage 1, the recommenders, all on one base class (``base.Recommender``): BPR-MF and LightGCN (Eq. 6-7,
``lightgcn``), FREEDOM (``freedom``) and VBPR (``vbpr``); ``objectives`` holds BPR (Eq. 2) and its negative
gradient (Eq. 3) for every model. Imports only ``core``."""
