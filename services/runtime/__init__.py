"""The runtime every supil service shares: config, logging, errors, artifacts, jobs and the server."""

from services.runtime.artifacts import ArtifactEntry, ArtifactStore, validate_name
from services.runtime.config import SERVICE_NAMES, ConfigError, ServiceConfig, env_float, env_int, load_config
from services.runtime.corpus import Document, read_corpus, write_corpus
from services.runtime.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    SupilError,
    Unimplemented,
)
from services.runtime.jobs import JobCancelled, JobContext, JobRunner, validate_job_id
from services.runtime.server import (
    Registration,
    ServiceParts,
    ServiceServer,
    channel_options,
    create_server,
    serve,
)

__all__ = [
    "SERVICE_NAMES",
    "AlreadyExists",
    "ArtifactEntry",
    "ArtifactStore",
    "ConfigError",
    "Document",
    "FailedPrecondition",
    "InvalidArgument",
    "JobCancelled",
    "JobContext",
    "JobRunner",
    "NotFound",
    "Registration",
    "ResourceExhausted",
    "ServiceConfig",
    "ServiceParts",
    "ServiceServer",
    "SupilError",
    "Unimplemented",
    "channel_options",
    "create_server",
    "env_float",
    "env_int",
    "load_config",
    "read_corpus",
    "serve",
    "validate_job_id",
    "validate_name",
    "write_corpus",
]
