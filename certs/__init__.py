"""Certificate tooling for the webhook: CA, serving certificates, renewal decisions, caBundle injection."""
