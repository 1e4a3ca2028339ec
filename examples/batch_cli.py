"""Incident response: revoke every session in a file with the ``cognito-signout`` CLI.

    python examples/batch_cli.py        # against an embedded Cognito emulator

What it runs is the command you would type against real Cognito:

    cognito-signout --region eu-west-1 --tokens-file sessions.txt --concurrency 32 --json

It keeps going past failed lines, reports them by line number (never the token), and exits
with the most serious failure: 0 all signed out, 3 only refused tokens (already dead), 2 some
lines are not tokens (fix them), 4-6 some sessions may still be live (retry those lines).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

from cognito_signout.emulator import MotoCognito


def main() -> int:
    with MotoCognito() as cognito, tempfile.TemporaryDirectory() as folder:
        users = [cognito.create_user() for _ in range(8)]
        tokens_file = os.path.join(folder, "sessions.txt")
        with open(tokens_file, "w") as out:
            out.write("# sessions known to the service\n")
            out.writelines(f"{user.access_token}\n" for user in users)
            out.write("not~a~token\n")  # a damaged line: reported, not fatal
            out.write(f"{users[0].access_token}\n")  # a duplicate: skipped
        command = [
            "--region", "us-east-1", "--endpoint-url", cognito.endpoint_url,
            "--tokens-file", tokens_file, "--concurrency", "4", "--json",
        ]
        print("$ cognito-signout " + " ".join(command))
        run = subprocess.run(
            [sys.executable, "-m", "cognito_signout", *command],
            capture_output=True, text=True, check=False,
        )
        results = [json.loads(line) for line in run.stdout.splitlines()]
        for result in results:
            if "line" in result and result["status"] != "signed_out":
                print(f"  line {result['line']}: {result['status']}")
        summary = results[-1]["summary"]
        print(f"  summary: {summary['signed_out']} signed out, {summary['failed']} failed, "
              f"{summary['duplicates']} duplicate(s); exit code {run.returncode}")
        still_live = [u.username for u in users if cognito.access_token_accepted(u.access_token)]
    if still_live or summary["signed_out"] != len(users):
        print(f"FAILED: sessions still live: {still_live}", file=sys.stderr)
        return 1
    # Exit 2: a damaged line was the most serious failure; every real token was signed out.
    return 0 if run.returncode == 2 else 1


if __name__ == "__main__":
    sys.exit(main())
