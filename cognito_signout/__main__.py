"""``python -m cognito_signout``: the same command as the ``cognito-signout`` script."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
