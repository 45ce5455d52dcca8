"""The team: ledger tables, the change-request state machine, and one module per role.

Nothing here imports Prefect, Slack, OpenAI or HTTP code; the entry points in
``flows`` and ``integrations`` open sessions, call these functions and commit.
"""
