"""The deadline check, as `serve` runs it on a schedule and every `review` command first.

Reviews past their deadline conclude as expired (a conditional update: two checks at once
expire a review once), and their Slack messages follow in the same transaction. Slack's
message code is imported only when something expired: `review list` stays light.
"""

from __future__ import annotations

from integrations.db import session_scope
from roles.clock import utcnow
from roles.review.conclusion import ReviewConclusion, expire_due_reviews


def expire_due() -> list[ReviewConclusion]:
    with session_scope() as session:
        expired = expire_due_reviews(session, now=utcnow())
        if expired:
            from integrations.slack.notices import after_expiry

            after_expiry(session, expired)
    return expired
