"""The fixtures any test may ask for by name; tests/support/ holds them, and what tests import besides."""

pytest_plugins = ["tests.support.stand_in", "tests.support.databases", "tests.support.bots", "tests.support.browser"]
