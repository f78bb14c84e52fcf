"""The operator's side of the Quay REST API: one client, its typed errors, the advice they carry."""
