"""pinterest-oauth-sdk: a client for Pinterest's OAuth token endpoint.

The names below are loaded on first use, so `import pinterest_oauth` stays cheap.
The API classes (`OauthApi`) are generated from the
package's OpenAPI description; `ApiClient` and `Configuration` extend the generated ones with
timeouts, retries, the https-only rule, error mapping and redaction. `PostgresTokenStore` needs
the `[postgres]` extra: psycopg is imported only when it is used.
"""

__version__ = "0.1.0"

import typing as _typing

_exports = {
    "OauthApi": ".api.oauth_api",
    "ApiClient": ".lib.client",
    "Configuration": ".lib.client",
    "Timeouts": ".lib.transport",
    "RetryPolicy": ".lib.transport",
    "ApiResponse": ".api_response",
    "OpenApiException": ".exceptions",
    "ApiTypeError": ".exceptions",
    "ApiValueError": ".exceptions",
    "ApiKeyError": ".exceptions",
    "ApiAttributeError": ".exceptions",
    "ApiException": ".exceptions",
    "PinterestApiError": ".lib.errors",
    "BadRequestError": ".lib.errors",
    "UnauthorizedError": ".lib.errors",
    "ForbiddenError": ".lib.errors",
    "NotFoundError": ".lib.errors",
    "RateLimitError": ".lib.errors",
    "ServerError": ".lib.errors",
    "UnexpectedStatusError": ".lib.errors",
    "InvalidResponseError": ".lib.errors",
    "TransportError": ".lib.errors",
    "ConnectionFailedError": ".lib.errors",
    "RequestTimeoutError": ".lib.errors",
    "InsecureTransportError": ".lib.errors",
    "Token": ".lib.tokens",
    "TokenStore": ".lib.stores",
    "MemoryTokenStore": ".lib.stores",
    "FileTokenStore": ".lib.stores",
    "TokenStoreError": ".lib.stores",
    "TokenConflictError": ".lib.stores",
    "RefreshLease": ".lib.stores",
    "RefreshRecord": ".lib.stores",
    "PostgresTokenStore": ".lib.postgres_store",
    "TokenSession": ".lib.session",
    "ReauthorizationRequired": ".lib.session",
    "authorization_url": ".lib.authorize",
    "code_from_callback": ".lib.authorize",
    "AuthorizationError": ".lib.authorize",
    "AuthorizationDeniedError": ".lib.authorize",
    "StateMismatchError": ".lib.authorize",
    "Error": ".models.error",
    "GrantType": ".models.grant_type",
    "OauthAccessTokenResponse": ".models.oauth_access_token_response",
    "ResponseType": ".models.response_type",
}

__all__ = sorted(_exports)

if _typing.TYPE_CHECKING:
    from pinterest_oauth.api.oauth_api import OauthApi as OauthApi
    from pinterest_oauth.lib.client import ApiClient as ApiClient, Configuration as Configuration
    from pinterest_oauth.lib.transport import RetryPolicy as RetryPolicy, Timeouts as Timeouts
    from pinterest_oauth.api_response import ApiResponse as ApiResponse
    from pinterest_oauth.exceptions import (
        ApiAttributeError as ApiAttributeError,
        ApiException as ApiException,
        ApiKeyError as ApiKeyError,
        ApiTypeError as ApiTypeError,
        ApiValueError as ApiValueError,
        OpenApiException as OpenApiException,
    )
    from pinterest_oauth.lib.errors import (
        BadRequestError as BadRequestError,
        ConnectionFailedError as ConnectionFailedError,
        ForbiddenError as ForbiddenError,
        InsecureTransportError as InsecureTransportError,
        InvalidResponseError as InvalidResponseError,
        NotFoundError as NotFoundError,
        PinterestApiError as PinterestApiError,
        RateLimitError as RateLimitError,
        RequestTimeoutError as RequestTimeoutError,
        ServerError as ServerError,
        TransportError as TransportError,
        UnauthorizedError as UnauthorizedError,
        UnexpectedStatusError as UnexpectedStatusError,
    )
    from pinterest_oauth.lib.tokens import Token as Token
    from pinterest_oauth.lib.stores import (
        FileTokenStore as FileTokenStore,
        MemoryTokenStore as MemoryTokenStore,
        TokenStore as TokenStore,
        TokenStoreError as TokenStoreError,
        TokenConflictError as TokenConflictError,
        RefreshLease as RefreshLease,
        RefreshRecord as RefreshRecord,
    )
    from pinterest_oauth.lib.postgres_store import PostgresTokenStore as PostgresTokenStore
    from pinterest_oauth.lib.session import (
        ReauthorizationRequired as ReauthorizationRequired,
        TokenSession as TokenSession,
    )
    from pinterest_oauth.lib.authorize import (
        AuthorizationDeniedError as AuthorizationDeniedError,
        AuthorizationError as AuthorizationError,
        StateMismatchError as StateMismatchError,
        authorization_url as authorization_url,
        code_from_callback as code_from_callback,
    )
    from pinterest_oauth.models.error import Error as Error
    from pinterest_oauth.models.grant_type import GrantType as GrantType
    from pinterest_oauth.models.oauth_access_token_response import OauthAccessTokenResponse as OauthAccessTokenResponse
    from pinterest_oauth.models.response_type import ResponseType as ResponseType
else:
    from importlib import import_module as _import_module

    def __getattr__(name: str) -> object:
        module = _exports.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(_import_module(module, __name__), name)
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(globals()) | set(_exports))
