"""The bundled registry core: a server that speaks the Quay REST API subset and the OCI /v2 API like Quay."""
