"""Stage 7, results: reading run records (``records``), the tables computed from them (``tables``), their
markdown, files and run summaries (``report``), a chapter's recorded values (``notebook``), and what fits
the book's text column (``layout``)."""
