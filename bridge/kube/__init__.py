"""The operator's side of the Kubernetes API: connection, REST client, watches, caches, peering."""
