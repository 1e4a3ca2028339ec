"""cognito-signout: sign a Cognito user out with one awaited call.

    async with Client(Config(region="eu-west-1")) as client:
        out = await client.global_sign_out().access_token(token).send()
"""

from . import errors
from ._client import Client
from ._config import Config, TimeoutConfig
from ._logout import logout_url
from ._retry import RetryConfig, RetryDetails, RetryQuota, is_testing, set_testing
from ._version import __version__
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
    "RetryConfig",
    "RetryDetails",
    "RetryQuota",
    "RevokeTokenFluentBuilder",
    "RevokeTokenInput",
    "RevokeTokenInputBuilder",
    "RevokeTokenOutput",
    "TimeoutConfig",
    "__version__",
    "errors",
    "is_testing",
    "logout_url",
    "set_testing",
]
