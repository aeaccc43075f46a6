"""`invitebot demo`: the Slack stand-in, a seeded org and the real bot, shown in a local web page."""
