"""Evaluation metrics (reference algorithms: shared/reference/metrics.md)."""
