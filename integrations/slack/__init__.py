"""Slack: the client, outbox delivery, Block Kit builders (and, later, the gateway).

Nothing here is imported by ledger-only commands: ``slack_sdk`` loads when a module of
this package that needs it is imported.
"""
