"""The deploy webhook: events queued with each deploy and rollback, POSTed signed."""
