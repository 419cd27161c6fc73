"""The trainer service: base model preparation, continued pretraining and one writer per sub-topic."""
