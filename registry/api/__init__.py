"""The registry core's Quay REST API (`/api/v1`), health checks and metrics, served by aiohttp."""
