"""All of promptloop's configuration: one pydantic-settings class behind a cached getter.

Variables use the ``PROMPTLOOP_`` prefix, except those the outside world already names
(``OPENAI_BASE_URL``, ``OPENAI_API_KEY``, ``SLACK_BOT_TOKEN``, ``SLACK_SIGNING_SECRET``,
``SLACK_APP_TOKEN``). A ``.env`` file in the working directory is read too.

    >>> from integrations.settings import get_settings
    >>> get_settings().database_url  # doctest: +SKIP
    'sqlite:////home/me/.promptloop/promptloop.db'
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from roles.errors import InputError

# A conversation id, not a name: updates and look-ups need the id (Slack: right-click the
# channel, "Copy link"; the id ends the link).
_CHANNEL_ID = r"^[CG][A-Z0-9]{2,}$"


def _env(name: str) -> Any:
    return Field(validation_alias=AliasChoices(name))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PROMPTLOOP_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    home: Path = Field(default=Path("~/.promptloop"), description="Directory for embedded state.")
    database_url: str | None = Field(
        default=None, description="Any SQLAlchemy URL; default a SQLite file in the home."
    )

    # Model endpoints (step 2). Unset base URL means the embedded local model.
    openai_base_url: str | None = Field(default=None, validation_alias="OPENAI_BASE_URL")
    openai_api_key: SecretStr | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    concurrency: int = Field(default=16, ge=1, le=1024)
    request_timeout_s: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=4, ge=0, le=20)
    prices: dict[str, tuple[float, float]] = Field(
        default_factory=dict,
        description="USD per million tokens (input, output) by model, merged over built-ins.",
    )
    retry_base_delay_s: float = Field(
        default=0.5, ge=0, description="First backoff step; doubles per retry, full jitter."
    )
    retry_max_delay_s: float = Field(default=30.0, ge=0, description="Cap on one backoff step.")
    retry_after_max_s: float = Field(
        default=120.0, ge=0, description="Cap on a server's Retry-After wait."
    )
    default_model: str = Field(
        default="smollm2-135m", description="Model used when a prompt names none."
    )
    provider_base_urls: dict[str, str] = Field(
        default_factory=dict,
        description="Base URL by provider prefix (openai, anthropic, mistral, ...), over built-ins.",
    )
    max_outage_share: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Share of a run's items that may fail through the endpoint (an outage) "
        "before the run is incomplete: no verdict, never reused, evaluated again later.",
    )
    local_model_start_timeout_s: float = Field(
        default=60.0, gt=0, description="How long the embedded model may take to answer."
    )

    custom_scorers: list[str] | None = Field(
        default=None,
        description="Module prefixes custom scorers may come from when evals run (unset: any).",
    )
    auto_evaluate: bool = Field(
        default=True,
        description="Start the change's pipeline run when a change is submitted.",
    )
    prompt_cache_ttl_s: float = Field(
        default=60.0,
        ge=0,
        description="How long promptloop.get_prompt keeps a version before reading it again.",
    )
    api_token: SecretStr | None = Field(
        default=None,
        description="Bearer token the gateway's GET /prompts/... requires (unset: open).",
    )
    pipeline_deployment: str | None = Field(
        default=None,
        pattern=r"^change-pipeline/[A-Za-z0-9_.-]+$",
        description="Run change pipelines on this deployment (e.g. change-pipeline/workers, "
        "from prefect.yaml, served by Prefect workers) instead of serve's own.",
    )
    dask_address: str | None = Field(
        default=None,
        pattern=r"^(tcp|tls|ucx|inproc)://\S+$",
        description="A Dask scheduler (tcp://host:8786) that large evaluations fan out to "
        "through prefect-dask; its workers need this ledger, the model endpoint and the "
        "Prefect API in their environment.",
    )
    dask_workers: int = Field(
        default=0,
        ge=0,
        le=256,
        description="Batches a fanned-out evaluation is split into; with no "
        "PROMPTLOOP_DASK_ADDRESS, a local Dask cluster of this many worker processes is "
        "started for it (0 with no address: evaluations stay in one process).",
    )
    dask_min_items: int = Field(
        default=2000,
        ge=1,
        description="Evaluations of fewer items than this stay in one process even when Dask "
        "is configured (starting a cluster costs seconds).",
    )
    sweep_cron: str = Field(
        default="0 6 * * *",
        pattern=r"^(off|\S+( \S+){4})$",
        description="When `promptloop serve` runs the regression sweep: a cron expression "
        "(five fields) in UTC, or off (no schedule: sweeps run when asked); default daily 06:00.",
    )

    # The deploy webhook: every deploy and rollback POSTed, signed, through the outbox.
    deploy_webhook_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s]+$",
        description="Where each deploy and rollback event is POSTed as signed JSON (unset: "
        "no events are queued).",
    )
    deploy_webhook_secret: SecretStr | None = Field(
        default=None,
        validate_default=True,
        description="The HMAC-SHA256 key the webhook's X-Promptloop-Signature is made with "
        "(required with PROMPTLOOP_DEPLOY_WEBHOOK_URL).",
    )
    deploy_webhook_timeout_s: float = Field(
        default=10.0, gt=0, description="How long one webhook POST may take to answer."
    )

    # Slack (step 3 onwards).
    slack_bot_token: SecretStr | None = Field(default=None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(
        default=None, validation_alias="SLACK_SIGNING_SECRET"
    )
    slack_app_token: SecretStr | None = Field(default=None, validation_alias="SLACK_APP_TOKEN")
    slack_review_channel: str | None = Field(
        default=None,
        pattern=_CHANNEL_ID,
        description="Channel id (C…) where review requests and their sampled items are posted.",
    )
    slack_deploy_channel: str | None = Field(
        default=None,
        pattern=_CHANNEL_ID,
        description="Channel id (C…) where deploy requests go to the engineers.",
    )
    slack_alerts_channel: str | None = Field(
        default=None,
        pattern=_CHANNEL_ID,
        description="Channel id (C…) for regression alerts and other notices.",
    )
    slack_digest_channel: str | None = Field(
        default=None,
        pattern=_CHANNEL_ID,
        description="Channel id (C…) for the weekly handoff-metrics digest; unset: the alerts "
        "channel.",
    )
    slack_api_url: str | None = Field(
        default=None,
        description="Base URL of another Slack-compatible Web API, ending in /api/ "
        "(tests, a proxy); unset means https://slack.com/api/.",
    )
    slack_timeout_s: float = Field(
        default=10.0, gt=0, description="How long one Slack API call may take to answer."
    )
    slack_max_retries: int = Field(
        default=2,
        ge=0,
        le=20,
        description="Retries of one Slack call on 429 (after Retry-After), 5xx and connection "
        "errors; after them the outbox backs off and tries again later.",
    )
    slack_team_id: str | None = Field(
        default=None,
        pattern=r"^[TE][A-Z0-9]{2,}$",
        description="The workspace (T…) the gateway serves; requests from any other are "
        "refused. Unset: whichever workspace the signing secret belongs to.",
    )
    gateway_host: str = Field(default="127.0.0.1", description="Where the gateway listens.")
    gateway_port: int = Field(default=3000, ge=0, le=65535, description="0 picks a free port.")
    review_fail_categories: list[str] = Field(
        default_factory=lambda: ["incorrect", "incomplete", "unsafe", "tone", "format", "other"],
        min_length=1,
        description="The reasons an expert can pick when failing an item (JSON list).",
    )

    @field_validator("deploy_webhook_secret", mode="after")
    @classmethod
    def _secret_with_url(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if info.data.get("deploy_webhook_url") and not (value and value.get_secret_value()):
            raise ValueError(
                "required when PROMPTLOOP_DEPLOY_WEBHOOK_URL is set: receivers verify the "
                "signature made with it"
            )
        return value

    @field_validator("home", mode="after")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def resolved_database_url(self) -> str:
        """The URL with our installed drivers chosen for plain scheme names."""
        url = self.database_url or f"sqlite:///{self.home / 'promptloop.db'}"
        return normalize_database_url(url)


def normalize_database_url(url: str) -> str:
    """``postgresql://user@host/db`` as people write it, made to use psycopg 3."""
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain) :]
    return url


_ENV_NAMES = {
    "openai_base_url": "OPENAI_BASE_URL",
    "openai_api_key": "OPENAI_API_KEY",
    "slack_bot_token": "SLACK_BOT_TOKEN",
    "slack_signing_secret": "SLACK_SIGNING_SECRET",
    "slack_app_token": "SLACK_APP_TOKEN",
}


def env_name(field: str) -> str:
    return _ENV_NAMES.get(field, f"PROMPTLOOP_{field.upper()}")


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and its parents) if missing; the folder itself owner-only (0700)
    whatever the umask. An existing folder is left as its owner made it."""
    if path.is_dir():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        return  # made meanwhile by another process: as it made it
    os.chmod(path, 0o700)  # the umask may have taken bits off; none is added to the group


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings, read once. Tests call ``get_settings.cache_clear()`` after changing env."""
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            described = Settings.model_fields.get(field)
            if error["type"] == "string_pattern_mismatch" and described and described.description:
                # not the regular expression: what the setting is for, and so what it takes
                what = described.description
                problems.append(
                    f"{env_name(field)}={error['input']!r} is not of the form it takes: "
                    f"{what[:1].lower()}{what[1:]}"
                )
            else:
                problems.append(f"{env_name(field)}: {error['msg']}")
        raise InputError("invalid setting " + "; ".join(problems)) from None
    except SettingsError as exc:  # a value that is not the JSON a structured setting needs
        match = re.search(r'field "(\w+)"', str(exc))
        name = env_name(match.group(1)) if match else "a PROMPTLOOP_ setting"
        raise InputError(f"invalid setting {name}: not valid JSON for this setting") from None
    try:
        make_private_dir(settings.home)
    except OSError as exc:
        raise InputError(
            f"PROMPTLOOP_HOME={settings.home} is not a usable directory: {exc.strerror or exc}"
        ) from None
    if not settings.home.is_dir():
        raise InputError(f"PROMPTLOOP_HOME={settings.home} is not a directory")
    return settings
