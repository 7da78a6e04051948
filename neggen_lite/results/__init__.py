"""Stage 7, results: reading run records (``records``), the tables computed from them (``tables``), the
controlled experiment's table (``experiment``), their
markdown, files and run summaries (``report``), and a chapter's recorded values (``notebook``)."""
