"""The registry core's Quay REST API (`/api/v1`), health checks and metrics, served by aiohttp.

Besides the handlers and the route table, the helpers only the REST API uses live here: request
parsing (``requests``), the request-body schemas (``schemas``), avatar blocks (``avatars``), views.
"""
