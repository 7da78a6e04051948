"""Stage 5, NegGen itself (Sec. 3.3-3.4): the causal module, Eq. 13-21 (``causal``); the objectives that
let the causal score rank real items -- ``joint``, ``repaired`` and the ``sampler`` reading of Fig. 6
(``objectives``); NegGen end to end -- features from the generations, the pre-trained base, training,
quality (``train``)."""
