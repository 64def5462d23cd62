"""Devices, precision, DDP and checkpoints: what both training loops share.

DDP: launched with ``torchrun --nproc_per_node=N`` the environment carries RANK, WORLD_SIZE
and LOCAL_RANK; ``Runtime.start`` joins the process group (NCCL on GPUs, gloo on the CPU).
Every rank draws the randomness of the *whole* global batch (examples, noise, timesteps) from
the same generator, seeded by (seed, epoch), and computes its own rows of it (``shard``); DDP
averages the gradients. So N processes take the same steps as one process with the same
global batch, up to float summation order (the ddp tests in tests/test_lfae.py and
tests/test_diffusion.py). Rank 0 alone writes files.

Checkpoints: the training state (model, optimiser, scheduler, epoch, history) is saved with
``torch.save`` after every epoch, atomically, and read back with ``weights_only=True``. All
randomness of an epoch comes from generators seeded by (seed, epoch, rank), so an interrupted
run resumed from its last checkpoint reproduces the uninterrupted run exactly on the CPU.
Final weights go to safetensors with the model config in the file's metadata.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from ..checkpoints import write_safetensors_atomic
from ..io import atomic_path

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    device: torch.device
    precision: str  # fp32 | bf16
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    @classmethod
    def start(cls, device: str = "auto", precision: str = "fp32") -> "Runtime":
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cuda":
            if not torch.cuda.is_available():
                raise RuntimeError("device 'cuda' asked for, but torch sees no GPU; use device: cpu or auto")
            torch.cuda.set_device(local)
            dev = torch.device("cuda", local)
        else:
            dev = torch.device("cpu")
        if world > 1 and not dist.is_initialized():
            dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
        if precision == "bf16" and dev.type == "cuda" and not torch.cuda.is_bf16_supported():
            log.warning("this GPU has no bf16; training in fp32")
            precision = "fp32"
        return cls(dev, precision, rank, world, local)

    def autocast(self):
        if self.precision == "bf16":
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        model = model.to(self.device)
        if self.distributed:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.local_rank] if self.device.type == "cuda" else None
            return DistributedDataParallel(model, device_ids=ids)
        return model

    def shard(self, global_batch: int) -> slice:
        """This rank's rows of a global batch (equal shares: the batch must divide by the world)."""
        if global_batch % self.world:
            raise ValueError(f"batch_size {global_batch} does not divide among {self.world} processes; "
                             f"use a multiple of {self.world} (the global batch is split evenly)")
        per = global_batch // self.world
        return slice(self.rank * per, (self.rank + 1) * per)

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def average(self, value: float) -> float:
        if not self.distributed:
            return value
        t = torch.tensor([value], dtype=torch.float64)
        dist.all_reduce(t)
        return float(t.item()) / self.world

    def stop(self) -> None:
        if self.distributed and dist.is_initialized():
            dist.destroy_process_group()


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """All randomness of one epoch, the same on every rank (each takes its ``Runtime.shard``)."""
    return torch.Generator().manual_seed(hash((seed, epoch, 0)) % (2**62))


def save_state(path: Path, state: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_state(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


# settings that change where and how fast a run goes, not what it computes
_NOT_IN_FINGERPRINT = ("device", "gpus", "precision", "eval_clips", "lpips_weights")


def run_fingerprint(cfg: dict, model_files: tuple[str, ...]) -> str:
    """What a checkpoint must match to be resumed: the training settings and the model code
    (``model_files``, names in ``dabfusion/models/``)."""
    import hashlib

    code = hashlib.sha256()
    for name in sorted(model_files):
        code.update((Path(__file__).parent.parent / "models" / name).read_bytes())
    settings = {k: v for k, v in cfg.items() if k not in _NOT_IN_FINGERPRINT}
    return hashlib.sha256((json.dumps(settings, sort_keys=True) + code.hexdigest()).encode()).hexdigest()[:16]


def load_resumable(path: Path, fingerprint: str, targets: list) -> dict | None:
    """Load a checkpoint into ``targets`` [(object, key)] if it belongs to this run, else None.

    A checkpoint left by other settings or older model code is moved aside (``*.stale``) with
    a warning, and training starts over, instead of failing or silently mixing runs.
    """
    path = Path(path)
    if not path.exists():
        return None
    state = load_state(path)
    if state.get("fingerprint") != fingerprint:
        stale = path.with_name(path.name + ".stale")
        os.replace(path, stale)
        log.warning("checkpoint %s was written by other settings or model code; moved to %s, starting over",
                    path, stale)
        return None
    for obj, key in targets:
        obj.load_state_dict(state[key])
    return state


def save_weights(path: Path, model: torch.nn.Module, config: dict, extra: dict | None = None) -> None:
    """Weights as safetensors; the model config (and provenance) as JSON in the metadata."""
    meta = {"config": json.dumps(config), **{k: json.dumps(v) for k, v in (extra or {}).items()}}
    write_safetensors_atomic(path, model.state_dict(), meta)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if hasattr(model, "module") else model
