"""Training loops for both stages, with resumable checkpoints, bf16 autocast and DDP."""
