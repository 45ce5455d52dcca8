"""Block Kit for submitting from Slack: the prompt picker, the change form, what follows.

The form shows each field of the version it opens on (``roles.prompt_fields``) as a
plain-text input, unescaped: Slack shows plain text as typed. A field longer than an
input holds (3000 characters) is not cut: the form says it stays as it is and how to
change it from the CLI. Text in mrkdwn (names, notes, states) is escaped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from integrations.slack import ids
from integrations.slack.text import escape, link, shorten
from roles.prompt_fields import FIELDS

MAX_INPUT = 3000  # Slack: a plain_text_input's value and initial_value
MAX_OPTIONS = 100  # Slack: a static select's options
MAX_STATUS = 20  # changes listed by /promptloop status

HINTS = {
    "system": "Jinja2, like the template; leave empty for none.",
    "template": "Jinja2: {{ variable }} for each field of a dataset item.",
    "examples": "YAML or JSON: a list of {input: {variable: …}, output: …}; empty for none.",
    "params": "YAML or JSON: temperature, top_p, max_tokens, seed, stop, presence_penalty, "
    "frequency_penalty, grammar.",
    "model": "e.g. smollm2-135m, openai/gpt-4o-mini",
}

USAGE = (
    "`/promptloop change NAME`: propose a change to prompt NAME, in a form filled with its "
    "production version\n"
    "`/promptloop change`: choose the prompt first (also: the *Change a prompt* shortcut)\n"
    "`/promptloop status`: your open changes and what each waits for\n"
    "`/promptloop help`: this"
)


def usage(problem: str | None = None) -> str:
    """The command's usage, after what was wrong with what was typed (escaped)."""
    return f"{escape(problem)}\n{USAGE}" if problem else USAGE


def pick_prompt_modal(names: Sequence[str]) -> View:
    """Which prompt to change: submitting it turns this modal into the change form."""
    more = len(names) > MAX_OPTIONS
    blocks: list[Block] = [
        InputBlock(
            block_id=ids.PICK_PROMPT_BLOCK,
            label="Prompt",
            element=StaticSelectElement(
                action_id=ids.PICK_PROMPT_ACTION,
                options=[Option(text=shorten(n, 75), value=n) for n in names[:MAX_OPTIONS]],
            ),
        )
    ]
    if more:
        blocks.append(
            _context(f"{len(names)} prompts; for one not listed: `/promptloop change NAME`")
        )
    return View(
        type="modal",
        callback_id=ids.PICK_PROMPT_VIEW,
        title=PlainTextObject(text="Change a prompt"),
        submit=PlainTextObject(text="Next"),
        close=PlainTextObject(text="Cancel"),
        blocks=blocks,
    )


def change_modal(
    *, prompt: str, version: int, label: str, texts: Mapping[str, str], too_long: Sequence[str]
) -> View:
    """The change form: ``texts`` prefilled; the fields in ``too_long`` said to stay as
    they are (never cut to fit)."""
    blocks: list[Block] = [
        SectionBlock(
            text=MarkdownTextObject(
                text=f"*{escape(prompt)}*, from v{version} ({escape(label)}). Submitting runs "
                "the same checks as `promptloop change submit`, then starts its evaluation."
            )
        )
    ]
    for name, title in FIELDS.items():
        if name in too_long:
            blocks.append(_kept_note(prompt, version, title, len(texts[name])))
            continue
        blocks.append(
            InputBlock(
                block_id=ids.change_block(name),
                label=title.capitalize(),
                optional=name in ("system", "examples", "params"),
                hint=HINTS[name],
                element=PlainTextInputElement(
                    action_id=ids.CHANGE_TEXT_ACTION,
                    multiline=name != "model",
                    initial_value=texts[name] or None,
                    max_length=200 if name == "model" else MAX_INPUT,
                ),
            )
        )
    blocks.append(
        InputBlock(
            block_id=ids.CHANGE_NOTE_BLOCK,
            label="Note",
            optional=True,
            hint="Why this change: kept with the handoff, read by reviewers and approvers.",
            element=PlainTextInputElement(
                action_id=ids.CHANGE_TEXT_ACTION, multiline=True, max_length=MAX_INPUT
            ),
        )
    )
    return View(
        type="modal",
        callback_id=ids.CHANGE_VIEW,
        private_metadata=json.dumps({"prompt": prompt, "version": version}),
        title=PlainTextObject(text=shorten(f"Change {prompt}", 24)),
        submit=PlainTextObject(text="Submit"),
        close=PlainTextObject(text="Cancel"),
        blocks=blocks,
    )


def _kept_note(prompt: str, version: int, title: str, length: int) -> SectionBlock:
    return SectionBlock(
        text=MarkdownTextObject(
            text=f":warning: The *{title}* is {length:,} characters long, more than a Slack field "
            f"holds ({MAX_INPUT:,}): it is not shown, and it stays as in v{version}. To change "
            f"it, use the CLI: `promptloop prompt export {escape(prompt)} > prompt.yaml`, edit, "
            "then `promptloop change submit -f prompt.yaml --as YOU`."
        )
    )


def message_modal(title: str, text: str) -> View:
    """What the form turns into once it is done with: the outcome, nothing to submit."""
    return View(
        type="modal",
        callback_id=ids.CHANGE_DONE_VIEW,
        title=PlainTextObject(text=shorten(title, 24)),
        close=PlainTextObject(text="Close"),
        blocks=[SectionBlock(text=MarkdownTextObject(text=escape(text)))],
    )


@dataclass(frozen=True)
class StatusLine:
    change_id: int
    prompt: str
    base_version: int | None
    candidate_version: int | None
    state: str
    waits_for: str
    run_url: str | None


def status_text(lines: Sequence[StatusLine]) -> str:
    """``/promptloop status``: one line per open change, what it waits for, its run."""
    if not lines:
        return "You have no open changes. `/promptloop change NAME` proposes one."
    out = [f"Your open changes ({len(lines)}):"]
    for line in lines[:MAX_STATUS]:
        run = f" · {link(line.run_url, 'Prefect run')}" if line.run_url else ""
        out.append(
            f"• *#{line.change_id}* {escape(line.prompt)} v{line.base_version or '-'} → "
            f"v{line.candidate_version}: *{escape(line.state)}*, {escape(line.waits_for)}{run}"
        )
    if len(lines) > MAX_STATUS:
        out.append(f"… and {len(lines) - MAX_STATUS} more: `promptloop change list`")
    return "\n".join(out)


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text)])
