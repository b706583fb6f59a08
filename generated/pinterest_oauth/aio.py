"""Async clients: `from pinterest_oauth.aio import AsyncApiClient, AsyncOauthApi, AsyncTokenSession`.

Needs the optional dependencies: `pip install "pinterest-oauth-sdk[async]"` (httpx2); without them,
importing this module raises ImportError naming that extra. `import pinterest_oauth` never
imports this module. The API classes are generated from the package's OpenAPI description
next to their sync twins (same arguments, checks, result models and exceptions); the clients
take the same `pinterest_oauth.Configuration`.
"""

from pinterest_oauth.lib.aio_client import AsyncApiClient
from pinterest_oauth.lib.aio_session import AsyncTokenSession
from pinterest_oauth.api.oauth_api import AsyncOauthApi

__all__ = ["AsyncApiClient", "AsyncTokenSession", "AsyncOauthApi", ]
