"""Results report (plots, HTML) and the provenance audit of the results table."""
