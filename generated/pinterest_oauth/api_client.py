"""The generated base of `pinterest_oauth.ApiClient`: a configuration, its urllib3 pool, default headers.

Rendered from the project's own template owned/api_client.mustache. The generated API classes
call `ApiClient.call_operation`, which the package's subclass (`pinterest_oauth.lib.client`)
provides; the generator's stock serialization layer (and the modules it imports, such as
dateutil and tempfile) is therefore not part of the package, which keeps a process's first
token cheap.
"""

from __future__ import annotations

from typing import Any, Optional

from typing_extensions import Self

from pinterest_oauth import rest
from pinterest_oauth.configuration import Configuration


class ApiClient:
    """Holds a `Configuration`, the urllib3 pool built from it, and headers sent with every call.

    :param configuration: connection settings (default: `Configuration.get_default()`).
    :param header_name, header_value: one default header to send with every request.
    :param cookie: a Cookie header value to send with every request.
    """

    def __init__(
        self,
        configuration: Optional[Configuration] = None,
        header_name: Optional[str] = None,
        header_value: Optional[str] = None,
        cookie: Optional[str] = None,
    ) -> None:
        if configuration is None:
            configuration = Configuration.get_default()
        self.configuration = configuration
        self.rest_client = rest.RESTClientObject(configuration)
        self.default_headers: dict[str, str] = {}
        if header_name is not None and header_value is not None:
            self.default_headers[header_name] = header_value
        self.cookie = cookie
        self.user_agent = "OpenAPI-Generator/0.1.0/python"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    @property
    def user_agent(self) -> str:
        """The User-Agent header sent with every request."""
        return self.default_headers["User-Agent"]

    @user_agent.setter
    def user_agent(self, value: str) -> None:
        self.default_headers["User-Agent"] = value

    def set_default_header(self, header_name: str, header_value: str) -> None:
        """Send `header_name: header_value` with every request."""
        self.default_headers[header_name] = header_value

    _default: Any = None

    @classmethod
    def get_default(cls) -> Any:
        """The shared client of API classes created without one."""
        if cls._default is None:
            cls._default = cls()
        return cls._default

    @classmethod
    def set_default(cls, default: Any) -> None:
        """Make `default` the shared client."""
        cls._default = default
