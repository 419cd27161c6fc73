from supil.v1 import jobs_pb2 as _jobs_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TrainStage(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRAIN_STAGE_UNSPECIFIED: _ClassVar[TrainStage]
    TRAIN_STAGE_PRETRAIN: _ClassVar[TrainStage]
    TRAIN_STAGE_WRITER: _ClassVar[TrainStage]

class Precision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRECISION_UNSPECIFIED: _ClassVar[Precision]
    PRECISION_AUTO: _ClassVar[Precision]
    PRECISION_FP32: _ClassVar[Precision]
    PRECISION_BF16: _ClassVar[Precision]
    PRECISION_FP16: _ClassVar[Precision]
TRAIN_STAGE_UNSPECIFIED: TrainStage
TRAIN_STAGE_PRETRAIN: TrainStage
TRAIN_STAGE_WRITER: TrainStage
PRECISION_UNSPECIFIED: Precision
PRECISION_AUTO: Precision
PRECISION_FP32: Precision
PRECISION_BF16: Precision
PRECISION_FP16: Precision

class LoraOptions(_message.Message):
    __slots__ = ("r", "alpha", "dropout", "target_modules", "layers")
    R_FIELD_NUMBER: _ClassVar[int]
    ALPHA_FIELD_NUMBER: _ClassVar[int]
    DROPOUT_FIELD_NUMBER: _ClassVar[int]
    TARGET_MODULES_FIELD_NUMBER: _ClassVar[int]
    LAYERS_FIELD_NUMBER: _ClassVar[int]
    r: int
    alpha: float
    dropout: float
    target_modules: _containers.RepeatedScalarFieldContainer[str]
    layers: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, r: _Optional[int] = ..., alpha: _Optional[float] = ..., dropout: _Optional[float] = ..., target_modules: _Optional[_Iterable[str]] = ..., layers: _Optional[_Iterable[int]] = ...) -> None: ...

class TrainingOptions(_message.Message):
    __slots__ = ("epochs", "max_steps", "learning_rate", "batch_size", "gradient_accumulation", "block_size", "warmup_ratio", "weight_decay", "freeze_layers", "lora", "precision", "gradient_checkpointing", "save_every_steps", "early_stopping_patience", "seed")
    EPOCHS_FIELD_NUMBER: _ClassVar[int]
    MAX_STEPS_FIELD_NUMBER: _ClassVar[int]
    LEARNING_RATE_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    GRADIENT_ACCUMULATION_FIELD_NUMBER: _ClassVar[int]
    BLOCK_SIZE_FIELD_NUMBER: _ClassVar[int]
    WARMUP_RATIO_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_DECAY_FIELD_NUMBER: _ClassVar[int]
    FREEZE_LAYERS_FIELD_NUMBER: _ClassVar[int]
    LORA_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    GRADIENT_CHECKPOINTING_FIELD_NUMBER: _ClassVar[int]
    SAVE_EVERY_STEPS_FIELD_NUMBER: _ClassVar[int]
    EARLY_STOPPING_PATIENCE_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    epochs: float
    max_steps: int
    learning_rate: float
    batch_size: int
    gradient_accumulation: int
    block_size: int
    warmup_ratio: float
    weight_decay: float
    freeze_layers: int
    lora: LoraOptions
    precision: Precision
    gradient_checkpointing: bool
    save_every_steps: int
    early_stopping_patience: int
    seed: int
    def __init__(self, epochs: _Optional[float] = ..., max_steps: _Optional[int] = ..., learning_rate: _Optional[float] = ..., batch_size: _Optional[int] = ..., gradient_accumulation: _Optional[int] = ..., block_size: _Optional[int] = ..., warmup_ratio: _Optional[float] = ..., weight_decay: _Optional[float] = ..., freeze_layers: _Optional[int] = ..., lora: _Optional[_Union[LoraOptions, _Mapping]] = ..., precision: _Optional[_Union[Precision, str]] = ..., gradient_checkpointing: _Optional[bool] = ..., save_every_steps: _Optional[int] = ..., early_stopping_patience: _Optional[int] = ..., seed: _Optional[int] = ...) -> None: ...

class CreateTrainJobRequest(_message.Message):
    __slots__ = ("job_id", "stage", "base", "train", "valid", "output", "options", "trust_remote_code", "query")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    BASE_FIELD_NUMBER: _ClassVar[int]
    TRAIN_FIELD_NUMBER: _ClassVar[int]
    VALID_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    TRUST_REMOTE_CODE_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    stage: TrainStage
    base: str
    train: _containers.RepeatedScalarFieldContainer[str]
    valid: _containers.RepeatedScalarFieldContainer[str]
    output: str
    options: TrainingOptions
    trust_remote_code: bool
    query: str
    def __init__(self, job_id: _Optional[str] = ..., stage: _Optional[_Union[TrainStage, str]] = ..., base: _Optional[str] = ..., train: _Optional[_Iterable[str]] = ..., valid: _Optional[_Iterable[str]] = ..., output: _Optional[str] = ..., options: _Optional[_Union[TrainingOptions, _Mapping]] = ..., trust_remote_code: _Optional[bool] = ..., query: _Optional[str] = ...) -> None: ...

class CreateTrainJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _jobs_pb2.Job
    def __init__(self, job: _Optional[_Union[_jobs_pb2.Job, _Mapping]] = ...) -> None: ...
