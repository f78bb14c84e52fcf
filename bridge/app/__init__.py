"""The ``quay-bridge run`` process: command line, kopf handlers, webhook and metrics servers."""
