"""Backups of the registry core: metadata database, server keys and blobs, in one directory."""
