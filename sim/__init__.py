"""The OpenShift simulator: an in-memory API server with the OpenShift behaviours the bridge depends on."""
