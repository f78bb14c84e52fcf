"""The registry core's metadata store: SQLAlchemy Core (async) on SQLite or PostgreSQL.

``schema`` holds the tables (including the OCI tables the ``/v2`` API uses), ``migrating`` the
ordered migrations, ``database`` the ``Store`` handle, ``prepared`` the statements built once; the
queries are one module per topic: ``accounts`` (the account record, users, names, credentials) at
the bottom, ``teams``, ``organizations``, ``robots``, ``repositories``, ``prototypes`` and
``oauth`` on it, and ``collection`` for what the namespace GC purges.
"""
