"""The tests' real ``redis-server`` on 127.0.0.1: the package's own launcher
(``cognito_signout._local_redis``, public as ``cognito_signout.emulator.LocalRedis``), under the
names the tests use. Never fakeredis: the tests need pub/sub, key expiry and real connection
loss.
"""

from __future__ import annotations

from cognito_signout._local_redis import LocalRedis as RedisServer
from cognito_signout._local_redis import local_redis as redis_server
from cognito_signout._local_redis import redis_server_binary

__all__ = ["RedisServer", "redis_server", "redis_server_binary"]
