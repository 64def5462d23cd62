"""Gaussian diffusion: the noise schedule and the samplers."""
