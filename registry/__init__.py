"""The bundled registry core: Quay REST API subset and OCI /v2 API, answering like Quay."""
