"""The review page: people settle the fields the machine rejected, and their answers flow back into the results.

``db`` (review tables, transactions), ``keyed`` (validation per kind), ``queue`` (leases, skips, progress),
``decisions`` (corrections and undo), ``scans`` (finding an original scan by its content hash), ``images`` (crops
and page views by id), ``security`` (sessions, token, CSRF), ``exporter`` (re-exports after changes), ``app`` (the
FastAPI pages), ``export`` (corrected digits for fine-tuning) and ``commands`` (the command line).
"""
