"""The registry core's metadata store: SQLAlchemy Core (async) on SQLite or PostgreSQL.

``schema`` holds the tables (including the OCI tables the ``/v2`` API uses), ``migrating`` the
ordered migrations, ``database`` the ``Store`` handle, and one module per topic the queries.
"""
