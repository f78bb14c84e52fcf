"""What every quay-bridge command line shares: defaults in ``--help`` and suggestions on typos."""
