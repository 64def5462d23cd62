"""Neural networks: the latent flow auto-encoder (stage 1) and the flow diffusion U-Net (stage 2)."""
