"""Prefect flows: orchestration only — they sequence role actions and pause for people."""
