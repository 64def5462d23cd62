"""The noise schedule: the one place that knows alpha-bar (paper eq. 5-6, Nichol & Dhariwal's cosine).

    q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I),   t = 0 .. T-1
    abar_t = f(t + 1) / f(0),   f(t) = cos^2(((t / T) + s) / (1 + s) * pi / 2),   betas clipped at 0.999

Everything a sampler needs (x0 from epsilon, epsilon from x0, posterior of the DDPM step,
log-SNR for DPM-Solver) is a method here, so samplers never re-derive schedule algebra.
"""

from __future__ import annotations

import math

import torch


class CosineSchedule:
    def __init__(self, timesteps: int = 1000, s: float = 0.008, max_beta: float = 0.999):
        self.T = timesteps
        steps = torch.arange(timesteps + 1, dtype=torch.float64)
        f = torch.cos(((steps / timesteps) + s) / (1 + s) * math.pi / 2) ** 2
        betas = (1 - f[1:] / f[:-1]).clamp(max=max_beta)
        self.betas = betas
        self.alphas_cumprod = torch.cumprod(1 - betas, dim=0)  # abar_t, t = 0 .. T-1 (float64)

    # --- per-step coefficients, broadcast to x ----------------------------------------------
    def _at(self, values: torch.Tensor, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """values[t] as x's dtype, shaped (B, 1, ..., 1) to broadcast against x."""
        t = torch.as_tensor(t, device=values.device).long().reshape(-1)
        out = values[t].to(device=x.device, dtype=x.dtype)
        return out.view(-1, *([1] * (x.dim() - 1)))

    def abar(self, t, x):
        return self._at(self.alphas_cumprod, t, x)

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps."""
        a = self.abar(t, x0)
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def predict_x0(self, x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        a = self.abar(t, x_t)
        return (x_t - (1 - a).sqrt() * eps) / a.sqrt()

    def predict_eps(self, x_t: torch.Tensor, t: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        a = self.abar(t, x_t)
        return (x_t - a.sqrt() * x0) / (1 - a).sqrt()

    # --- what the network predicts: epsilon (the paper), v (Salimans & Ho) or x0 itself ---------
    def training_target(self, prediction: str, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """epsilon, v = sqrt(abar) eps - sqrt(1 - abar) x0, or x0."""
        if prediction == "eps":
            return noise
        if prediction == "x0":
            return x0
        a = self.abar(t, x0)
        return a.sqrt() * noise - (1 - a).sqrt() * x0

    def eps_from_output(self, prediction: str, x_t: torch.Tensor, t: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """The network's output as epsilon, what every sampler consumes: eps = sqrt(abar) v + sqrt(1 - abar) x_t."""
        if prediction == "eps":
            return out
        if prediction == "x0":
            return self.predict_eps(x_t, t, out)
        a = self.abar(t, x_t)
        return a.sqrt() * out + (1 - a).sqrt() * x_t

    def x0_from_output(self, prediction: str, x_t: torch.Tensor, t: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """The network's output as the clean x0: x0 = sqrt(abar) x_t - sqrt(1 - abar) v for v."""
        if prediction == "x0":
            return out
        if prediction == "eps":
            return self.predict_x0(x_t, t, out)
        a = self.abar(t, x_t)
        return a.sqrt() * x_t - (1 - a).sqrt() * out

    def posterior(self, x0: torch.Tensor, x_t: torch.Tensor, t: int) -> tuple[torch.Tensor, float]:
        """Mean and variance of q(x_{t-1} | x_t, x_0), the ancestral DDPM step (t >= 1)."""
        a_t = float(self.alphas_cumprod[t])
        a_prev = float(self.alphas_cumprod[t - 1])
        beta = float(self.betas[t])
        c0 = math.sqrt(a_prev) * beta / (1 - a_t)
        ct = math.sqrt(1 - beta) * (1 - a_prev) / (1 - a_t)
        var = beta * (1 - a_prev) / (1 - a_t)
        return c0 * x0 + ct * x_t, var

    def log_snr(self, t: int) -> float:
        """lambda_t = log(alpha_t / sigma_t), alpha_t = sqrt(abar_t), sigma_t = sqrt(1 - abar_t)."""
        a = float(self.alphas_cumprod[t])
        return 0.5 * math.log(a / (1 - a))

    def alpha_sigma(self, t: int) -> tuple[float, float]:
        a = float(self.alphas_cumprod[t])
        return math.sqrt(a), math.sqrt(1 - a)

    def spaced(self, steps: int) -> list[int]:
        """``steps`` time steps from T-1 down to 0, evenly spaced (the trajectory of DDIM/DPM-Solver)."""
        if not 1 <= steps <= self.T:
            raise ValueError(f"sampling steps must be within 1..{self.T}, got {steps}")
        ts = torch.linspace(self.T - 1, 0, steps).round().long().tolist()
        return sorted(set(ts), reverse=True)
