"""Stage 5, NegGen itself (Sec. 3.3-3.4): the causal module and its objectives, Eq. 13-21 (``causal``), and
NegGen end to end -- features from the generations, the pre-trained base, training, quality (``train``)."""
