"""Typed keys for what the registry core's aiohttp application carries.

Both APIs read the shared objects through these keys: ``request.app[STORE_KEY]`` is the metadata
``Store``, ``request.app[SETTINGS_KEY]`` the ``Settings``. Kept in their own module so the ``/v2``
handlers need not import the REST API to reach them.
"""

from __future__ import annotations

from aiohttp import web

from registry.settings import Settings
from registry.store.database import Store

STORE_KEY = web.AppKey("store", Store)
SETTINGS_KEY = web.AppKey("settings", Settings)
