"""Prefect flows and deployments (see the open issue on nightly batches)."""
