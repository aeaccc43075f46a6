"""The unit tier: pure functions, no network, subprocess or database.

In CI (CI set) Hypothesis has no deadline and derandomizes, so a busy machine or a new seed cannot turn a property
test red; elsewhere it explores new examples on every run.
"""

import os

from hypothesis import settings

settings.register_profile("ci", deadline=None, derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
