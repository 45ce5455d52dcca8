"""The outside world: settings, the database engine, the model client, Slack, Prefect, the CLI."""
