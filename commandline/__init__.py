"""What every quay-bridge command line shares: defaults, typo suggestions, listen addresses."""
