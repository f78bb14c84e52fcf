"""Certificate tooling for the webhook: CA, serving certificates, renewal, caBundle injection."""
