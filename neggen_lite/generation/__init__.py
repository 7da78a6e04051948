"""Stage 4, negative generation (Sec. 3.2): the prompts (``prompts``), language-model backends
(``backends``: transformers, OpenAI-compatible servers) and the embedded offline models (``offline_models``),
validation and rule-based fallbacks (``validation``), the resumable cached pipeline (``pipeline``), attribute
encoding (Eq. 8-9, ``encoding``) and item features built from text (``features``). Imports ``core``
only: no recommender is needed to generate."""
