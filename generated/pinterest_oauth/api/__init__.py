# flake8: noqa

__all__ = [
    "OauthApi",
]

import typing as _typing

if _typing.TYPE_CHECKING:
    # import apis into api package
    from pinterest_oauth.api.oauth_api import OauthApi
    
else:
    from importlib import import_module

    _exports = {
        "OauthApi": ".oauth_api",
    }

    def __getattr__(name: str) -> object:
        if (module_name := _exports.get(name)) is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(import_module(module_name, __name__), name)
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(globals().keys() | _exports.keys())
