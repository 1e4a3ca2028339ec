"""cognito-signout: sign a Cognito user out with one awaited call.

    async with Client(Config(region="eu-west-1")) as client:
        out = await client.global_sign_out().access_token(token).send()
"""

from . import errors
from ._client import Client
from ._config import Config, TimeoutConfig
from ._retry import RetryConfig, RetryDetails, RetryQuota, is_testing, set_testing
from ._version import __version__
from .operations.global_sign_out import (
    CustomizableOperation,
    GlobalSignOutFluentBuilder,
    GlobalSignOutInput,
    GlobalSignOutInputBuilder,
    GlobalSignOutOutput,
)

__all__ = [
    "Client",
    "Config",
    "CustomizableOperation",
    "GlobalSignOutFluentBuilder",
    "GlobalSignOutInput",
    "GlobalSignOutInputBuilder",
    "GlobalSignOutOutput",
    "RetryConfig",
    "RetryDetails",
    "RetryQuota",
    "TimeoutConfig",
    "__version__",
    "errors",
    "is_testing",
    "set_testing",
]
