"""What the tests share: the seeded Slack stand-in, databases, the bot in and out of process, and ways to read what people see."""
