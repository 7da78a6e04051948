"""Stage 7, results: reading run records (``records``), the tables computed from them (``tables``), the
controlled experiment's table (``experiment``), the sentences that read them against the paper, written from
the records (``readings``), their markdown, files and run summaries (``report``), a
chapter's recorded values (``notebook``), the quantities several chapters cite, each computed once under
one name (``quantities``), and what fits the book's text column (``layout``)."""
