"""The registry core's OCI distribution API (`/v2`): blobs, uploads, manifests, tags, referrers.

Quay-style token auth sits in front of it: `/v2/auth` hands out RS256 JWTs whose `access` claims are
the only thing the data endpoints trust. The pure parts (errors, digests, manifests, scopes, tokens)
do no I/O; storage lives in `blobstore`/`uploads` (files) and `metadata` (SQL), HTTP in `handlers/`.
"""
