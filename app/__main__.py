"""`python -m app` is `invitebot`."""

import sys

from app.main.cli import main

sys.exit(main())
