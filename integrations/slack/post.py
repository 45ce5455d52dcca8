"""Writing a built message into the outbox, to the channel its kind goes to.

Call these inside the transaction of the handoff or vote the message belongs to; the
delivery loop sends it after the commit::

    with session_scope() as session:
        handoff = transition(session, change_id=5, target=State.IN_REVIEW, actor="promptloop")
        parent = post_message(session, kind=OutboxKind.REVIEW_PARENT, change_id=5,
                              message=review_parent(summary), key="review:5")
"""

from __future__ import annotations

from sqlmodel import Session

from integrations.settings import Settings, get_settings
from integrations.slack.blocks import ReviewItemView, ReviewSummary, review_item, review_parent
from integrations.slack.message import SlackMessage
from roles.errors import InputError
from roles.ledger import OutboxKind, OutboxMessage
from roles.outbox import enqueue, get_message, update_message

# Without Slack the channel only labels the terminal output.
_CHANNELS = {
    OutboxKind.REVIEW_PARENT: ("slack_review_channel", "#review"),
    OutboxKind.REVIEW_ITEM: ("slack_review_channel", "#review"),
    OutboxKind.DEPLOY_REQUEST: ("slack_deploy_channel", "#deploy"),
    OutboxKind.NOTICE: ("slack_alerts_channel", "#alerts"),
}


def channel_for(kind: OutboxKind, settings: Settings | None = None) -> str:
    """The configured channel for a kind of message; with Slack configured it must be set."""
    settings = settings or get_settings()
    field, local_name = _CHANNELS[kind]
    channel = getattr(settings, field)
    if channel:
        return str(channel)
    if settings.slack_bot_token is not None:
        raise InputError(
            f"SLACK_BOT_TOKEN is set but PROMPTLOOP_{field.upper()} is not: "
            f"name the channel id where {kind.value} messages go"
        )
    return local_name


def alerts_channel(settings: Settings | None = None) -> str:
    """Where sweep alerts go: PROMPTLOOP_SLACK_ALERTS_CHANNEL, else the deploy channel (the
    engineers keep production safe), else (no Slack) ``#alerts`` in the terminal."""
    settings = settings or get_settings()
    if settings.slack_alerts_channel:
        return settings.slack_alerts_channel
    if settings.slack_bot_token is not None and settings.slack_deploy_channel:
        return settings.slack_deploy_channel
    return channel_for(OutboxKind.NOTICE, settings)


def check_channels(settings: Settings | None = None) -> None:
    """With Slack configured, every channel a message may need must be named: refused up
    front (serve's start), not when the first deploy request is due."""
    settings = settings or get_settings()
    if settings.slack_bot_token is None:
        return
    missing = [
        f"PROMPTLOOP_{field.upper()}"
        for field in ("slack_review_channel", "slack_deploy_channel")
        if not getattr(settings, field)
    ]
    if missing:
        raise InputError(
            f"SLACK_BOT_TOKEN is set but {' and '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not: name the channel id(s) messages go to"
        )


def post_message(
    session: Session,
    *,
    kind: OutboxKind,
    message: SlackMessage,
    change_id: int | None = None,
    parent_id: int | None = None,
    key: str | None = None,
    channel: str | None = None,
) -> OutboxMessage:
    """A pending outbox row (or the one already under ``key``). A reply goes to its
    parent's channel; others to ``channel``, or the one configured for ``kind``."""
    if parent_id is not None:
        channel = get_message(session, message_id=parent_id).channel
    return enqueue(
        session,
        channel=channel or channel_for(kind),
        kind=kind.value,
        change_id=change_id,
        parent_id=parent_id,
        key=key,
        **message.outbox_fields(),
    )


def revise_message(session: Session, *, message_id: int, message: SlackMessage) -> bool:
    """New content for a message: a delivered one is then updated in Slack (``chat.update``)."""
    return update_message(session, message_id=message_id, **message.outbox_fields())


def link_in(message: OutboxMessage) -> str | None:
    """The Prefect run link a message was written with, so an update keeps it."""
    for block in message.blocks or []:
        for element in block.get("elements", []) if isinstance(block, dict) else []:
            text = str(element.get("text", "")) if isinstance(element, dict) else ""
            if text.startswith("<http") and "|Prefect run>" in text:
                return text[1:].split("|", 1)[0]
    return None


def review_key(change_id: int, sample_id: int | None = None, review_id: int | None = None) -> str:
    """The outbox key of a review's parent message, or of one sampled item's reply (a
    change reviewed again after a revision has a new review, and new messages)."""
    parent = f"review:{change_id}" + (f":{review_id}" if review_id is not None else "")
    return parent if sample_id is None else f"{parent}:item:{sample_id}"


def post_review(
    session: Session, *, summary: ReviewSummary, items: list[ReviewItemView]
) -> tuple[OutboxMessage, list[OutboxMessage]]:
    """The review's parent message and one reply per item; a step that runs again (a resumed
    flow) gets the rows it wrote the first time, and nothing is posted twice."""
    change_id = summary.change_id
    parent = post_message(
        session,
        kind=OutboxKind.REVIEW_PARENT,
        message=review_parent(summary),
        change_id=change_id,
        key=review_key(change_id, review_id=summary.review_id),
    )
    return parent, post_replies(
        session, parent=parent, items=items, change_id=change_id, review_id=summary.review_id
    )


def post_replies(
    session: Session,
    *,
    parent: OutboxMessage,
    items: list[ReviewItemView],
    change_id: int,
    review_id: int | None,
) -> list[OutboxMessage]:
    """One reply per sampled item in the review's thread (a row already under its key is
    returned as it is: an item is never posted twice)."""
    return [
        post_message(
            session,
            kind=OutboxKind.REVIEW_ITEM,
            message=review_item(item),
            change_id=change_id,
            parent_id=parent.id,
            key=review_key(change_id, item.sample_id, review_id=review_id),
        )
        for item in items
    ]
