"""One token: sign it out and say how that went, on stdout (or stderr for a failure)."""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

from .console import scrubbed
from .exits import EXIT_INTERRUPTED, EXIT_OK
from .outcomes import Success, failure_fields, service_text

if TYPE_CHECKING:
    from .._config import Config
    from .arguments import AppClient


def sign_out_one(
    config: Config, token: str, app: AppClient | None, *, json_mode: bool, quiet: bool
) -> int:
    """Sign ``token`` out (with ``app``: revoke it, a refresh token of that app client); print
    the result (a JSON object with ``json_mode``); the exit code."""
    import json
    import sys

    import anyio

    from .. import errors
    from .._client import Client

    async def call() -> Success:
        async with Client(config) as client:
            if app is None:
                return await client.global_sign_out().access_token(token).send()
            revoke = client.revoke_token().token(token).client_id(app.client_id)
            revoked: Success = await revoke.set_client_secret(app.client_secret).send()
            return revoked

    def emit(stream: IO[str], text: str) -> None:
        stream.write(scrubbed(text, token, app.secrets if app is not None else ()) + "\n")
        stream.flush()

    try:
        output = anyio.run(call)
    except errors.SdkError as exc:
        fields = failure_fields(exc, config=config, token=token)
        if json_mode:
            emit(sys.stdout, json.dumps({"ok": False, **fields}))
        elif not quiet:
            # fields["message"] is str(exc): control characters escaped by the error itself
            emit(sys.stderr, f"cognito-signout: {fields['status'].replace('_', ' ')}: "
                 f"{fields['message']}")
        return int(fields["exit_code"])
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    request_id = service_text(output.request_id)
    if json_mode:
        emit(
            sys.stdout,
            json.dumps(
                {
                    "ok": True,
                    "status": "signed_out",
                    "request_id": request_id,
                    "attempts": output.attempts,
                    "exit_code": EXIT_OK,
                }
            ),
        )
    elif not quiet:
        tries = "" if output.attempts == 1 else f", {output.attempts} attempts"
        emit(sys.stdout, f"signed out (request id {request_id or 'none'}{tries})")
    return EXIT_OK
