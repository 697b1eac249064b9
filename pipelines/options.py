"""Settings to options: the one place the typed `Settings` become the plain option objects below.

`models/` and `nudges/` never see `Settings`: each takes a small frozen dataclass of
exactly what it needs. The CLI, the Prefect flows and the weekly run all build those
here, so two callers can never configure the same step differently.
"""

from __future__ import annotations

from models.drivers import Healthy
from models.rules import RuleWeights
from models.stars import StarRule
from models.train import TrainOptions
from nudges.delivery.send import SendOptions
from nudges.delivery.smtp import SmtpConfig
from nudges.render import Identity
from nudges.select import SelectionPolicy
from pipelines.ingest.options import IngestOptions
from pipelines.settings import Settings


def identity(settings: Settings) -> Identity:
    """Who the digests come from and how they read."""
    return Identity(
        sender=settings.email.sender,
        reply_to=settings.email.reply_to,
        unsubscribe=settings.email.unsubscribe,
        organisation=settings.email.organisation,
        display=settings.nudges.display,
    )


def healthy(settings: Settings) -> Healthy:
    # [drivers] has exactly Healthy's fields, so a new level needs one edit in each.
    return Healthy(**settings.drivers.model_dump())


def rule_weights(settings: Settings) -> RuleWeights:
    rules = settings.rules
    return RuleWeights(
        recognition=rules.weight_recognition,
        one_on_ones=rules.weight_one_on_ones,
        career=rules.weight_career,
        autonomy=rules.weight_autonomy,
    )


def threshold(settings: Settings, method: str) -> float:
    """The flagging threshold for this week's score: the model's, or the rules score's."""
    return settings.model.threshold if method == "model" else settings.rules.threshold


def star_rule(settings: Settings) -> StarRule:
    return StarRule(settings.stars.min_rating, settings.stars.top_share, settings.stars.combine)


def selection_policy(settings: Settings, method: str) -> SelectionPolicy:
    return SelectionPolicy(
        threshold=threshold(settings, method),
        per_manager=settings.nudges.per_manager,
        rating_max=settings.ingest.rating_max,
    )


def train_options(settings: Settings) -> TrainOptions:
    m = settings.model
    return TrainOptions(
        min_leavers=m.min_leavers,
        validation_share=m.validation_share,
        min_validation_leavers=m.min_validation_leavers,
        threshold=m.threshold,
        min_group_size=m.min_group_size,
        protected_extra=tuple(m.protected_extra),
        allow_protected=m.allow_protected,
        rule_weights=rule_weights(settings),
        n_jobs=m.n_jobs,
        time_budget_seconds=m.time_budget_seconds or None,
    )


def smtp_config(settings: Settings) -> SmtpConfig:
    s = settings.smtp
    return SmtpConfig(
        host=s.host,
        port=s.port,
        tls=s.tls,
        username=s.username,
        password=s.password.get_secret_value() if s.password else None,
        timeout_s=s.timeout_s,
        max_connections=s.max_connections,
        messages_per_connection=s.messages_per_connection,
        rate_per_minute=s.rate_per_minute,
        max_attempts=s.max_attempts,
        backoff_base_s=s.backoff_base_s,
        backoff_max_s=s.backoff_max_s,
        cert_bundle=str(s.cert_bundle) if s.cert_bundle else None,
        validate_certs=s.validate_certs,
    )


def send_options(settings: Settings) -> SendOptions:
    return SendOptions(smtp=smtp_config(settings), sender=settings.email.sender)


def ingest_options(settings: Settings) -> IngestOptions:
    """The [ingest] section as options: one place, for the CLI and the flow alike."""
    i = settings.ingest
    return IngestOptions(
        columns=i.columns,
        date_format=i.date_format,
        max_reject_share=i.max_reject_share,
        csv_delimiter=i.csv_delimiter,
        rating_min=i.rating_min,
        rating_max=i.rating_max,
        earliest_year=i.earliest_year,
        extra_columns=tuple(i.extra_columns),
    )
