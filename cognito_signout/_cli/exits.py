"""The command's exit codes, and the order in which a batch ranks its failures."""

from __future__ import annotations

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_NOT_AUTHORIZED = 3
EXIT_THROTTLED = 4
EXIT_SERVICE_ERROR = 5
EXIT_TRANSPORT = 6
EXIT_CLIENT_REFUSED = 7  # --revoke-refresh-token only
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a process killed by it

EXIT_CODES = {
    EXIT_OK: "signed out (batch: every token)",
    EXIT_USAGE: "usage error: bad option, no token, malformed token, unreadable tokens file",
    EXIT_NOT_AUTHORIZED: "not authorized: Cognito refused the token (revoked, expired, ...)",
    EXIT_THROTTLED: "throttled: still throttled after the retries",
    EXIT_SERVICE_ERROR: "other service error",
    EXIT_TRANSPORT: "transport failure: no usable answer (connection, timeout, bad response)",
    EXIT_CLIENT_REFUSED: "app client refused: wrong client id or secret, or revocation is not "
    "enabled for the client (--revoke-refresh-token)",
    EXIT_INTERRUPTED: "interrupted",
    EXIT_BROKEN_PIPE: "the reader of the output went away (broken pipe)",
}

# A batch exits with its most serious failure. A refused token (3) is dead already; a damaged
# line (2) may hide a live token and needs fixing; 4-6 may have left a session live; a refused
# app client (7) left every session it was asked about live, and retrying cannot help until the
# client id or secret is fixed.
SEVERITY = (EXIT_OK, EXIT_NOT_AUTHORIZED, EXIT_USAGE, EXIT_THROTTLED, EXIT_SERVICE_ERROR,
            EXIT_TRANSPORT, EXIT_CLIENT_REFUSED)
