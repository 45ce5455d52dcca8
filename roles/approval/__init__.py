"""The engineers' gate: policy, the decisions, promotion exactly once, rollback."""
