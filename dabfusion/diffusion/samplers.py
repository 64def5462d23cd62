"""Samplers: ancestral DDPM (the paper's, all T steps), DDIM, and DPM-Solver++(2M).

Every sampler takes ``eps_fn(x_t, t) -> epsilon`` (t: (B,) long), a ``CosineSchedule``, the
shape of the sample, and a ``torch.Generator`` (or one per batch row) for all of its noise,
so a seed fixes a video. ``threshold`` maps a predicted x0 into the data range (dynamic thresholding at the
90th percentile, Saharia et al.; the paper's setting) or is ``None``. Classifier-free
guidance is a wrapper around the model (``classifier_free``), not part of any sampler.

    steps    DDPM: always T model calls.  DDIM: ``steps`` calls.  DPM-Solver++(2M): ``steps`` calls.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from .schedule import CosineSchedule

EpsFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
SAMPLERS = ("ddpm", "ddim", "dpmpp2m")


def dynamic_threshold(x0: torch.Tensor, percentile: float = 0.9) -> torch.Tensor:
    """Per sample: s = max(1, the percentile of |x0|); clamp x0 to [-s, s], divide by s."""
    s = torch.quantile(x0.detach().abs().flatten(1).float(), percentile, dim=1).clamp(min=1.0)
    s = s.to(x0.dtype).view(-1, *([1] * (x0.dim() - 1)))
    return torch.maximum(torch.minimum(x0, s), -s) / s


def classifier_free(model_fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
                    scale: float) -> EpsFn:
    """eps = eps_uncond + scale (eps_cond - eps_uncond); scale 1 is the conditional model alone.

    ``model_fn(x, t, drop)``: ``drop`` (B,) bool says which rows get the null condition.
    """
    if scale == 1.0:
        return lambda x, t: model_fn(x, t, torch.zeros(x.shape[0], dtype=torch.bool, device=x.device))

    def eps(x, t):
        b = x.shape[0]
        drop = torch.arange(2 * b, device=x.device) >= b
        cond, uncond = model_fn(torch.cat([x, x]), torch.cat([t, t]), drop).chunk(2)
        return uncond + scale * (cond - uncond)

    return eps


def with_known_frames(eps_fn: EpsFn, schedule: CosineSchedule, known: torch.Tensor, frames: torch.Tensor) -> EpsFn:
    """Continue a video: frames where ``frames`` (N,) is True are given, the rest are sampled.

    At every step the network's x0 estimate of the given frames is replaced by ``known``
    (B, C, N, h, w) and turned back into epsilon, so any sampler follows a path that ends on
    them, while the other frames are denoised next to (and attending to) them. Used to chain
    windows of a long dance whose flows all warp the same reference.
    """
    sel = frames.view(1, 1, -1, 1, 1).to(known.device)

    def eps(x, t):
        e = eps_fn(x, t)
        x0 = torch.where(sel, known.to(x.dtype), schedule.predict_x0(x, t, e))
        return schedule.predict_eps(x, t, x0)

    return eps


def _randn(shape, generator, device) -> torch.Tensor:
    """Noise from one generator, or from one generator per row (a video then does not depend
    on which other videos share its batch)."""
    if isinstance(generator, (list, tuple)):
        if len(generator) != shape[0]:
            raise ValueError(f"{len(generator)} generators for a batch of {shape[0]}")
        return torch.stack([torch.randn(tuple(shape[1:]), generator=g) for g in generator]).to(device)
    return torch.randn(shape, generator=generator).to(device)


def _t(t: int, b: int, device) -> torch.Tensor:
    return torch.full((b,), t, dtype=torch.long, device=device)


def _x0(schedule, x, t, eps, threshold):
    x0 = schedule.predict_x0(x, _t(t, x.shape[0], x.device), eps)
    return threshold(x0) if threshold is not None else x0


def ddpm(eps_fn: EpsFn, schedule: CosineSchedule, shape, generator: torch.Generator, threshold=None,
         device="cpu", progress=None) -> torch.Tensor:
    """Ancestral sampling through all T steps (paper eq. 4)."""
    x = _randn(shape, generator, device)
    for t in range(schedule.T - 1, -1, -1):
        x0 = _x0(schedule, x, t, eps_fn(x, _t(t, shape[0], device)), threshold)
        if t == 0:
            x = x0
        else:
            mean, var = schedule.posterior(x0, x, t)
            x = mean + math.sqrt(var) * _randn(shape, generator, device)
        if progress:
            progress()
    return x


def ddim(eps_fn: EpsFn, schedule: CosineSchedule, shape, generator: torch.Generator, steps: int = 50,
         eta: float = 0.0, threshold=None, device="cpu", progress=None) -> torch.Tensor:
    """DDIM (Song et al.): eta 0 is deterministic given the starting noise."""
    x = _randn(shape, generator, device)
    ts = schedule.spaced(steps)
    for i, t in enumerate(ts):
        tt = _t(t, shape[0], device)
        x0 = _x0(schedule, x, t, eps_fn(x, tt), threshold)
        eps = schedule.predict_eps(x, tt, x0)  # consistent with the (thresholded) x0
        a = float(schedule.alphas_cumprod[t])
        a_prev = float(schedule.alphas_cumprod[ts[i + 1]]) if i + 1 < len(ts) else 1.0
        sigma = eta * math.sqrt((1 - a_prev) / (1 - a) * (1 - a / a_prev))
        x = math.sqrt(a_prev) * x0 + math.sqrt(max(1 - a_prev - sigma**2, 0.0)) * eps
        if sigma > 0:
            x = x + sigma * _randn(shape, generator, device)
        if progress:
            progress()
    return x


def dpmpp2m(eps_fn: EpsFn, schedule: CosineSchedule, shape, generator: torch.Generator, steps: int = 20,
            threshold=None, device="cpu", progress=None) -> torch.Tensor:
    """DPM-Solver++(2M) (Lu et al. 2022): second-order multistep in the data prediction.

    Deterministic given the starting noise. The last call's x0 is the result (the final
    step goes to sigma = 0, first order, as is usual for this solver).
    """
    x = _randn(shape, generator, device)
    ts = schedule.spaced(steps)
    prev_x0, prev_h = None, None
    for i, s in enumerate(ts):
        x0 = _x0(schedule, x, s, eps_fn(x, _t(s, shape[0], device)), threshold)
        if progress:
            progress()
        if i + 1 == len(ts):
            return x0
        t = ts[i + 1]
        a_t, sig_t = schedule.alpha_sigma(t)
        _, sig_s = schedule.alpha_sigma(s)
        h = schedule.log_snr(t) - schedule.log_snr(s)
        if prev_x0 is None:
            d = x0
        else:
            r = prev_h / h
            d = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * prev_x0
        x = (sig_t / sig_s) * x - a_t * math.expm1(-h) * d
        prev_x0, prev_h = x0, h
    return x


def sample(name: str, eps_fn: EpsFn, schedule: CosineSchedule, shape, generator: torch.Generator, steps: int,
           eta: float = 0.0, threshold=None, device="cpu", progress=None) -> torch.Tensor:
    """Dispatch on the configured sampler name (``sampling.sampler``)."""
    if name == "ddpm":
        return ddpm(eps_fn, schedule, shape, generator, threshold, device, progress)
    if name == "ddim":
        return ddim(eps_fn, schedule, shape, generator, steps, eta, threshold, device, progress)
    if name == "dpmpp2m":
        return dpmpp2m(eps_fn, schedule, shape, generator, steps, threshold, device, progress)
    raise ValueError(f"unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}")


def model_calls(name: str, schedule: CosineSchedule, steps: int) -> int:
    """How many denoiser evaluations a video costs (before guidance doubles them)."""
    if name == "ddpm":
        return schedule.T
    return len(schedule.spaced(steps))
