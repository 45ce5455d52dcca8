"""The gateway's listeners for submitting a change from Slack.

- ``/promptloop change NAME`` → the change form, filled with NAME's production version;
  ``/promptloop change`` or ``/promptloop`` (and the *Change a prompt* shortcut) → a
  prompt picker first, whose submission turns into the form.
- ``/promptloop status`` → the member's open changes and what each waits for (ephemeral);
  ``/promptloop help``, or anything else → the usage (with what was wrong).
- The form, submitted → ``change submit``'s own door (``integrations.actions.changes.submit``)
  as the Slack user's member, inside the acknowledgement: an error is shown next to its
  field (``response_action: errors``) and nothing is written. Written once however often
  the same submission comes (its view, hash and text are the replay key). Then, after the
  ack, its pipeline run is created as ``change submit`` creates it, and the author gets a
  direct message (through the outbox) with the change and its Prefect link, or why the
  run could not start yet (the change stays recorded, the reason where `change show` looks).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.models.views import View
from sqlmodel import Session, col, select

from integrations.actions.changes import submit
from integrations.actions.door import Door
from integrations.db import session_scope
from integrations.settings import get_settings
from integrations.slack import ids
from integrations.slack.client import slack_errors
from integrations.slack.handlers import Job, ack_now, attempt, reading
from integrations.slack.notices import tell_author
from integrations.slack.payloads import RequestStamp
from integrations.slack.replay import Replayed
from integrations.slack.submit_payloads import (
    ChangeForm,
    Command,
    Opening,
    PromptPicked,
    parse_change_form,
    parse_command,
    parse_prompt_picked,
    parse_shortcut,
)
from integrations.slack.submit_status import status_of
from integrations.slack.submit_views import (
    MAX_INPUT,
    change_modal,
    message_modal,
    pick_prompt_modal,
    usage,
)
from integrations.slack.text import shorten
from roles.changes import change_view
from roles.errors import FieldError, InputError, PromptloopError, RoleError
from roles.ledger import Prompt
from roles.pm import require_author
from roles.prompt_fields import FIELDS, field_texts, fields_doc, too_long
from roles.registry import PRODUCTION, find_prompt, label_target, latest_version, resolve, spec_of
from roles.roster import member_for_slack_user

log = logging.getLogger("promptloop.gateway")

read_command = reading("command", parse_command)
read_shortcut = reading("opening", parse_shortcut)
read_picked = reading("picked", parse_prompt_picked)
read_form = reading("form", parse_change_form)


def register_submit(app: App) -> None:
    """``/promptloop``, the change shortcut and the two modals (before any catch-all)."""
    app.command(ids.SLASH_COMMAND, middleware=[read_command])(ack=ack_command, lazy=[run_command])
    app.shortcut(ids.CHANGE_SHORTCUT, middleware=[read_shortcut])(
        ack=ack_now, lazy=[open_from_shortcut]
    )
    app.view_submission(ids.PICK_PROMPT_VIEW, middleware=[read_picked])(prompt_picked)
    app.view_submission(ids.CHANGE_VIEW, middleware=[read_form])(
        ack=submit_form, lazy=[start_pipeline_and_tell]
    )


def subcommand(words: tuple[str, ...]) -> tuple[str, str | None]:
    """What ``/promptloop WORDS`` asks: ``("form", name)``, ``("pick", None)``,
    ``("status", None)``, or ``("help", what was wrong or None)``."""
    verb, args = (words[0].lower(), words[1:]) if words else ("change", ())
    if verb == "change" and len(args) <= 1:
        return ("form", args[0]) if args else ("pick", None)
    if verb == "change":
        return "help", f"`/promptloop change` takes one prompt name, not {len(args)}."
    if verb == "status" and not args:
        return "status", None
    if verb == "help":
        return "help", None
    return "help", f"promptloop has no command `{shorten(' '.join(words), 100)}`."


def ack_command(ack: Ack, context: BoltContext) -> None:
    """Help is the acknowledgement itself (ephemeral); the rest is work after it."""
    command: Command = context["command"]
    kind, problem = subcommand(command.words)
    if kind == "help":
        ack(text=usage(problem), response_type="ephemeral")
    else:
        ack()


def run_command(context: BoltContext, client: WebClient) -> None:
    command: Command = context["command"]
    kind, name = subcommand(command.words)
    if kind == "help":
        return
    job: Job = lambda: _open(client, command.user_id, command.trigger_id, name)  # noqa: E731
    if kind == "status":
        job = lambda: status_of(command.user_id)  # noqa: E731
    attempt(client, user_id=command.user_id, channel_id=command.channel_id, job=job)


def open_from_shortcut(context: BoltContext, client: WebClient) -> None:
    opening: Opening = context["opening"]
    job = lambda: _open(client, opening.user_id, opening.trigger_id, None)  # noqa: E731
    attempt(client, user_id=opening.user_id, channel_id=None, job=job)


def _open(client: WebClient, user_id: str, trigger_id: str | None, prompt: str | None) -> None:
    """The change form for ``prompt`` (or the picker), for a member who may submit."""
    with session_scope() as session:
        _author(session, user_id)
        view = _form(session, prompt) if prompt else pick_prompt_modal(_prompt_names(session))
    with slack_errors():
        client.views_open(trigger_id=trigger_id or "", view=view)


def prompt_picked(ack: Ack, context: BoltContext) -> None:
    """The picker's choice: the modal becomes that prompt's change form (an update in the
    acknowledgement: a trigger is not needed, and no second modal is stacked)."""
    picked: PromptPicked = context["picked"]
    try:
        with session_scope() as session:
            _author(session, picked.user_id)
            view = _form(session, picked.prompt)
    except PromptloopError as exc:
        ack(response_action="errors", errors={ids.PICK_PROMPT_BLOCK: shorten(exc.message, 2000)})
        return
    ack(response_action="update", view=view)


def submit_form(ack: Ack, context: BoltContext) -> None:
    """``change submit`` from the form, inside the acknowledgement (its errors go back in
    it); ``context["submitted"]`` tells the work after it what was written."""
    form: ChangeForm = context["form"]
    try:
        context["submitted"] = _submit(form, context["stamp"])
    except Replayed as exc:
        log.info("replay refused: %s", exc)
        ack()  # the first copy was written; this one closes the form
    except FieldError as exc:
        ack(response_action="errors", errors={_block_for(form, exc.loc): _said(exc)})
    except RoleError as exc:
        refused = f"Not allowed: {exc.message}. Nothing was submitted."
        ack(response_action="update", view=message_modal("Not allowed", refused))
    except PromptloopError as exc:
        ack(response_action="errors", errors={_block_for(form, ()): _said(exc)})
    except Exception:
        log.exception("the change form of %s failed", form.user_id)
        text = "Something went wrong in promptloop; nothing was recorded (its log has why)"
        ack(response_action="errors", errors={_block_for(form, ()): text})
    else:
        done = context["submitted"]
        ack(response_action="update", view=message_modal(f"Change #{done['id']}", _receipt(done)))


def _submit(form: ChangeForm, stamp: RequestStamp) -> dict[str, Any]:
    """The form's fields as a prompt document, through ``change submit``'s door."""
    with session_scope() as session:
        base = spec_of(resolve(session, name=form.prompt, version=form.version), name=form.prompt)
    change = submit(
        Door.slack(form.user_id, stamp=RequestStamp(key=form.request_key(), sent_at=stamp.sent_at)),
        doc=fields_doc(base, form.texts),
        note=form.note,
        not_evaluated=None if get_settings().auto_evaluate else "PROMPTLOOP_AUTO_EVALUATE=false",
    )
    assert change.id is not None
    with session_scope() as session:
        return change_view(session, change_id=change.id, with_history=False)


def _receipt(view: dict[str, Any]) -> str:
    return (
        f"Change #{view['id']} is {view['state']}: {view['prompt']} v{view['base_version'] or '-'} "
        f"→ v{view['candidate_version']}. A direct message follows with its pipeline run; "
        "`/promptloop status` shows where it is."
    )


def start_pipeline_and_tell(context: BoltContext) -> None:
    """After the ack: the change's pipeline run, created as ``change submit`` creates it;
    the author told (a DM through the outbox) with its link, or why it has not started."""
    done = context.get("submitted")
    if not done:
        return  # refused, or a replay: nothing was written
    from integrations.slack.submit_launch import launch

    change_id = int(done["id"])
    lines, run_url = launch(change_id, str(done["prompt"]))
    title = (
        f"Your change #{change_id} is submitted: {done['prompt']} v{done['base_version'] or '-'} "
        f"→ v{done['candidate_version']}"
    )
    with session_scope() as session:
        tell_author(
            session,
            change_id=change_id,
            title=title,
            lines=lines,
            key=f"notice:{change_id}:submitted:{done['candidate_version']}",
            run_url=run_url,
        )


def _author(session: Session, user_id: str) -> str:
    """The handle of the Slack user's member, if they may submit; else a RoleError."""
    member = member_for_slack_user(session, slack_user_id=user_id)
    require_author(session, handle=member.handle)
    return member.handle


def _form(session: Session, prompt: str) -> View:
    """The change form on ``prompt``'s production version (its latest, if none is)."""
    row = find_prompt(session, name=prompt)
    production = label_target(session, prompt=row, label=PRODUCTION)
    version = production or latest_version(session, prompt=row)
    spec = spec_of(version, name=prompt)
    return change_modal(
        prompt=prompt,
        version=version.number,
        label=PRODUCTION if production is not None else "latest; none is in production",
        texts=field_texts(spec),
        too_long=too_long(spec, MAX_INPUT),
    )


def _prompt_names(session: Session) -> list[str]:
    names = list(session.exec(select(Prompt.name).order_by(col(Prompt.name))).all())
    if not names:
        raise InputError("there are no prompts yet: push one with `promptloop prompt push`")
    return names


def _block_for(form: ChangeForm, loc: tuple[str | int, ...]) -> str:
    """The form's block an error concerns: its field's, or (an error about the whole
    change, or a field the form does not show) the first field it shows."""
    name = str(loc[0]) if loc else None
    if name in FIELDS and form.texts.get(name) is not None:
        return ids.change_block(name)
    shown = [n for n in ("template", *FIELDS) if form.texts.get(n) is not None]
    return ids.change_block(shown[0]) if shown else ids.CHANGE_NOTE_BLOCK


def _said(exc: PromptloopError) -> str:
    return shorten(exc.message, 2000)
