"""Running an eval suite over a dataset and recording it in the ledger (no HTTP here:
the model is reached through a ``ModelCaller`` the entry point hands in)."""
