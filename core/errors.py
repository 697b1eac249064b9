"""Our exception types. The CLI turns any of them into one readable line and exit 1.

    RetentionError                  base; never raised itself
    ├── ConfigError                 a config file or env var is missing or invalid
    ├── StoreError                  the DuckDB file cannot be opened or migrated
    │   └── StoreLockedError        another process holds the DuckDB file
    ├── IngestError                 a drop-folder file is missing or wholly unusable
    ├── ModelError                  a model cannot be trained, loaded or used
    │   └── UntrustedModelError     a model file holds types outside our allow-list
    ├── RenderError                 a digest cannot be rendered or addressed
    ├── PrivacyError                an explain, forget or opt-out request cannot be carried out
    └── DeliveryError               a digest cannot be written or sent
        ├── TransientDeliveryError  worth retrying later (4xx, network)
        └── PermanentDeliveryError  will not succeed on retry (5xx)

Messages name the file, key or field a person has to fix, and never carry a
person's name, email, survey answer or free text.
"""

from __future__ import annotations


class RetentionError(Exception):
    """Base class for every error this product raises on purpose."""


class ConfigError(RetentionError):
    """Raised when settings cannot be loaded or a value is invalid."""


class StoreError(RetentionError):
    """Raised when the DuckDB store cannot be opened, migrated or written."""


class StoreLockedError(StoreError):
    """Raised when another process holds the DuckDB file."""


class IngestError(RetentionError):
    """Raised when a drop-folder file is missing or wholly unusable."""


class ModelError(RetentionError):
    """Raised when a model cannot be trained, loaded or used."""


class UntrustedModelError(ModelError):
    """Raised when a model file contains types outside the allow-list."""


class RenderError(RetentionError):
    """Raised when a digest cannot be rendered or addressed."""


class PrivacyError(RetentionError):
    """Raised when an explain, forget or opt-out request cannot be carried out (e.g. an unknown id)."""


class DeliveryError(RetentionError):
    """Raised when a digest cannot be written or sent."""


class TransientDeliveryError(DeliveryError):
    """Raised for failures worth retrying (4xx replies, network faults)."""


class PermanentDeliveryError(DeliveryError):
    """Raised for failures that will not succeed on retry (5xx replies)."""
