"""The ``promptloop`` command: one Typer app with a sub-app per noun.

Exit codes: 0 success, 1 refused by policy (role, illegal transition, conflict),
2 invalid input or usage, 3 an internal error (a bug: run with --debug and report it),
4 an outage (a model endpoint, the Prefect server or the ledger did not answer, or its
disk is full or read-only: ``promptloop.cli.faults``), 130 interrupted.
Prefect, OpenAI and Slack are imported only by the commands that need them.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated, Any

import typer
import typer.main
from sqlalchemy.exc import IntegrityError

from promptloop.cli.common import JsonOpt
from promptloop.cli.output import emit_json, error, say
from roles.errors import PromptloopError

app = typer.Typer(
    name="promptloop",
    help="promptloop: the prompt-change loop — submit, evaluate, review, approve, deploy, watch.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# Each noun's module is imported only when one of its commands runs (all of them for
# --help): a ledger command pays for its own imports, not for every other command's.
NOUNS = {
    "team": "team",
    "prompt": "prompt",
    "dataset": "dataset",
    "change": "change",
    "eval": "evals",
    "suite": "suite",
    "review": "review",
    "sweep": "sweep",
    "judge": "judge",
    "outbox": "outbox",
    "server": "server",
    "serve": "serve",
    "gateway": "gateway",
    "demo": "demo",
    "metrics": "metrics",
}
COMMANDS = {"demo", "metrics"}  # nouns that are one command, not a sub-app
_registered: set[str] = set()


def register(argv: list[str]) -> None:
    """Add the sub-app that ``argv`` names to ``app``, or every one when it names none."""
    import importlib

    named = next((a for a in argv if not a.startswith("-")), None)
    for noun in [named] if named in NOUNS else list(NOUNS):
        if noun is None or noun in _registered:
            continue
        module = importlib.import_module(f"promptloop.cli.{NOUNS[noun]}")
        if noun in COMMANDS:
            app.command(noun)(getattr(module, noun))
        else:
            app.add_typer(module.app, name=noun)
        _registered.add(noun)


_built: dict[frozenset[str], Any] = {}


def command() -> Any:
    """The click command Typer builds from ``app`` (reading every command's signature
    costs tens of milliseconds), built once per set of registered nouns: a warm process
    builds it before it forks (``promptloop.cli.warm``)."""
    key = frozenset(_registered)
    if key not in _built:
        _built[key] = typer.main.get_command(app)
    return _built[key]


db_app = typer.Typer(help="The ledger database.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        sys.stdout.write(f"promptloop {version('promptloop')}\n")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    _show_version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    if debug:
        os.environ["PROMPTLOOP_DEBUG"] = "1"


@db_app.command("upgrade")
def db_upgrade(as_json: JsonOpt = False) -> None:
    """Create the ledger schema or upgrade it to the newest migration."""
    from integrations.db import current_revision, make_engine, shown_url
    from integrations.migrations.runner import upgrade
    from integrations.settings import get_settings

    url = get_settings().resolved_database_url
    engine = make_engine(url)
    before = current_revision(engine)
    upgrade(engine)
    after = current_revision(engine)
    engine.dispose()
    if as_json:
        emit_json({"database": shown_url(url), "from": before, "to": after})
    else:
        say(f"ledger at {shown_url(url)}: {before or 'empty'} → {after}")


@app.command("init")
def init(
    sample: Annotated[
        bool, typer.Option("--sample", help="Also load the sample team, prompt and dataset.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create the ledger; with --sample, load the sample (running it twice changes nothing)."""
    from integrations.db import session_scope, shown_url
    from roles.sample import load_sample

    written: list[str] = []
    for attempt in range(3):
        try:
            with session_scope() as session:
                if sample:
                    written = load_sample(session).written
            break
        except IntegrityError:
            # Someone else is loading the same sample at this moment; it is idempotent,
            # so look again once they are done.
            if attempt == 2:
                raise
    url = shown_url()
    if as_json:
        emit_json({"database": url, "sample": sample, "written": written})
        return
    say(f"ledger ready at {url}")
    for line in written:
        say(f"  + {line}")
    if sample and not written:
        say("  the sample was already loaded; nothing changed")


def interrupted(argv: list[str]) -> str:
    """What Ctrl-C left: each write is one transaction, so the one under way left nothing.

    >>> interrupted(["dataset", "push", "x.jsonl"])
    'interrupted; what was committed before stays, the write under way left nothing'
    >>> interrupted(["eval", "run", "p"])
    'interrupted; what was committed before stays (the answers so far are cached)'
    """
    if argv[:1] in (["eval"], ["change"], ["sweep"]):  # commands that call the model
        return "interrupted; what was committed before stays (the answers so far are cached)"
    return "interrupted; what was committed before stays, the write under way left nothing"


def run_cli(argv: list[str] | None = None) -> int:
    """Run one command; return its exit code (errors are printed, not raised)."""
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv or os.environ.get("PROMPTLOOP_DEBUG") == "1"
    try:
        register(argv)
        returned = command()(args=argv, prog_name="promptloop", standalone_mode=False)
        if isinstance(returned, int) and returned:
            if returned == 130:  # Typer turns Ctrl-C into Exit(130)
                say(interrupted(argv))
            return returned
    except PromptloopError as exc:
        if debug:
            raise
        error(exc.message)
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        say("aborted")
        return 130
    except SystemExit as exc:
        if type(sys.stdout).__name__ == "PacifyFlushWrapper":  # click's answer to EPIPE
            return quiet_broken_pipe()
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        say(interrupted(argv))
        return 130
    except BrokenPipeError:
        return quiet_broken_pipe()
    except IntegrityError:
        if debug:
            raise
        error(
            "someone else wrote the same record at the same moment; nothing of "
            "yours was written — run the command again"
        )
        return 1
    except Exception as exc:
        if _is_usage_error(exc):
            exc.show()  # type: ignore[attr-defined]
            return 2
        if debug:
            raise
        from promptloop.cli.faults import translate

        translated = translate(exc, argv)  # an outage (4) or a number out of range (2)
        if translated is not None:
            error(translated.message)
            return translated.exit_code
        error(
            f"{type(exc).__name__}: {exc} (run with --debug for the traceback)",
            kind="internal error",
        )
        return 3
    return 0


def quiet_broken_pipe() -> int:
    """The reader went away (`promptloop … | head -1`): stop printing, exit as SIGPIPE would."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 141


def flushed(code: int) -> int:
    """Flush what the command printed; the exit code, SIGPIPE's if the reader went away."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = quiet_broken_pipe()
    sys.stderr.flush()
    return code


def main() -> None:
    """The console script. Exits without the interpreter's slow teardown when it can."""
    code = flushed(run_cli())
    if "prefect" in sys.modules:
        # Prefect ships logs and events from background threads at exit: let it finish.
        sys.exit(code)
    # Everything promptloop writes is committed by now; skipping the interpreter's
    # teardown saves a few hundred milliseconds on every command.
    logging.shutdown()
    os._exit(code)


def _is_usage_error(exc: Exception) -> bool:
    """Typer's own click (typer._click) or plain click: a bad argument or option."""
    return any(cls.__name__ in {"ClickException", "UsageError"} for cls in type(exc).__mro__)
