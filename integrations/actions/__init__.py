"""One door per human action: the only way a person's act reaches the ledger.

Each action checks who may do it (through ``roles``), writes the ledger and the outbox
messages that announce it in one transaction (with the Slack request that carried it,
so a replay writes nothing), queues the deploy webhook's event where production moves,
and, once committed, wakes the change's pipeline run. The CLI, the Slack gateway, the
demo and the Python API only translate their input into one of these calls::

    from integrations.actions.deploys import approve
    from integrations.actions.door import Door
    outcome = approve(Door.cli("sam"), change_id=7)             # `change approve 7 --as sam`
    outcome = approve(Door.slack("U04SAM", stamp=stamp, waker=hook), change_id=7)  # a button

No team rule lives in a door: who may act is ``roles``' to say, once. The modules are
imported one by one (``deploys``, ``changes``, ``reviews``, ``labels``): a ledger command
that only reads loads none of Slack's code.
"""
