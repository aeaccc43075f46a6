"""Benchmarks that run the real `invitebot serve` against the Slack stand-in."""
