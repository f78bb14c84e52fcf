"""Tests of the admission webhook: the pure mutation, the reviews, the HTTPS server."""
