"""Training: supernet and subnet training loop, metrics, checkpoints, Ray Train data parallelism.

    TrainConfig                     every knob of a run (frozen, validated, JSON round-tripping)
    train_supernet / train_subnet   train in-process, or on Ray Train workers when num_workers > 1
    evaluate                        val log loss / AUC (the test split is refused inside training / search)
    load_supernet / load_subnet     rebuild a model from a checkpoint directory
    TrainResult, Checkpoint         what a run returns; a reference to one checkpoint directory
    train_loop, TrainTask           the shared loop, for callers that build their own model
    forbid_test_split            the guard that training and selection run under

Data-parallel design (embeddings replicated, gradients of the looked-up embeddings all-gathered): see
``nasrec.train.distributed``.
"""

from nasrec.train.api import evaluate, load_subnet, load_supernet, train_subnet, train_supernet
from nasrec.train.checkpoint import Checkpoint
from nasrec.train.config import TrainConfig
from nasrec.train.guard import forbid_test_split
from nasrec.train.loop import TrainResult, TrainTask, train_loop

__all__ = [
    "Checkpoint",
    "TrainConfig",
    "TrainResult",
    "TrainTask",
    "evaluate",
    "load_subnet",
    "load_supernet",
    "forbid_test_split",
    "train_loop",
    "train_subnet",
    "train_supernet",
]
