"""The OpenShift simulator: an in-memory API server with the OpenShift parts the bridge uses."""
