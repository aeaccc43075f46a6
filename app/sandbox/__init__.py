"""A local Slack stand-in: the Web API the bot calls, and the signed requests Slack sends to the bot."""

from app.sandbox.fake import FakeSlack
from app.sandbox.sender import Reply, SlackSender, SocketSender

__all__ = ["FakeSlack", "Reply", "SlackSender", "SocketSender"]
