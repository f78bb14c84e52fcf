"""What the operator decides, with no I/O: the spec, names, selection, plans, Event bodies.

Everything here is a function of its arguments, so it is tested without servers. The import
contracts in ``pyproject.toml`` keep clients, sockets, the event loop and metrics out.
"""
