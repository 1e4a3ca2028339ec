"""cognito-signout: sign a Cognito user out with one awaited call.

    async with Client(Config(region="eu-west-1")) as client:
        out = await client.global_sign_out().access_token(token).send()
"""

from typing import TYPE_CHECKING, Any

from . import errors
from ._client import Client
from ._version import __version__

if TYPE_CHECKING:
    from ._config import Config, TimeoutConfig
    from ._logout import logout_url
    from ._retry import RetryDetails, RetryQuota, is_testing, set_testing
    from ._retry_config import RetryConfig
    from ._revocations import Recording, Revocations
    from ._verify import TokenVerifier, VerifiedToken
    from .operations._builders import CustomizableOperation
    from .operations.get_user import (
        GetUserFluentBuilder,
        GetUserInput,
        GetUserInputBuilder,
        GetUserOutput,
        MfaOption,
    )
    from .operations.global_sign_out import (
        GlobalSignOutFluentBuilder,
        GlobalSignOutInput,
        GlobalSignOutInputBuilder,
        GlobalSignOutOutput,
    )
    from .operations.revoke_token import (
        RevokeTokenFluentBuilder,
        RevokeTokenInput,
        RevokeTokenInputBuilder,
        RevokeTokenOutput,
    )

# Loaded on first use (PEP 562), as the runtime loads with the first Client (_client.py):
# importing the package stays cheap for processes that import it and never configure a call
# (a CLI's --help, a test collection, a module that only catches cognito_signout.errors). The
# configuration and retry types are attrs classes, and attrs alone costs about 15 ms of import
# (docs/guide/performance.md); the RevokeToken, GetUser and verification types are paid for
# only by those who use them. The names are the same public names either way.
_LAZY = {
    **dict.fromkeys(("Config", "TimeoutConfig"), "._config"),
    "RetryConfig": "._retry_config",
    **dict.fromkeys(("RetryDetails", "RetryQuota", "is_testing", "set_testing"), "._retry"),
    "CustomizableOperation": ".operations._builders",
    **dict.fromkeys(
        ("GlobalSignOutFluentBuilder", "GlobalSignOutInput", "GlobalSignOutInputBuilder",
         "GlobalSignOutOutput"),
        ".operations.global_sign_out",
    ),
    "logout_url": "._logout",
    "Recording": "._revocations",
    "Revocations": "._revocations",
    "TokenVerifier": "._verify",
    "VerifiedToken": "._verify",
    **dict.fromkeys(
        ("GetUserFluentBuilder", "GetUserInput", "GetUserInputBuilder", "GetUserOutput",
         "MfaOption"),
        ".operations.get_user",
    ),
    **dict.fromkeys(
        ("RevokeTokenFluentBuilder", "RevokeTokenInput", "RevokeTokenInputBuilder",
         "RevokeTokenOutput"),
        ".operations.revoke_token",
    ),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cognito_signout' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    # The lazy names too: help(), an IDE's completion and dir() see the whole surface.
    return sorted({*globals(), *_LAZY})

__all__ = [
    "Client",
    "Config",
    "CustomizableOperation",
    "GetUserFluentBuilder",
    "GetUserInput",
    "GetUserInputBuilder",
    "GetUserOutput",
    "GlobalSignOutFluentBuilder",
    "GlobalSignOutInput",
    "GlobalSignOutInputBuilder",
    "GlobalSignOutOutput",
    "MfaOption",
    "Recording",
    "RetryConfig",
    "RetryDetails",
    "RetryQuota",
    "Revocations",
    "RevokeTokenFluentBuilder",
    "RevokeTokenInput",
    "RevokeTokenInputBuilder",
    "RevokeTokenOutput",
    "TimeoutConfig",
    "TokenVerifier",
    "VerifiedToken",
    "__version__",
    "errors",
    "is_testing",
    "logout_url",
    "set_testing",
]
