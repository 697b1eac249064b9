"""The true exit model: its coefficients drive the simulation and go verbatim to the truth."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Hazard:
    """True hazard model; written verbatim to ground_truth.json.

    Monthly voluntary hazard of an employee at risk at a month start:
    h = b_m * tenure_multiplier * exp(sum(beta * x) + frailty), capped, where
    b_m rescales so the month's mean hazard matches `voluntary_per_year`.

    Calibrated so the true hazard ranks 180-day voluntary exits at a ROC-AUC
    near 0.78 (the ceiling a model is judged against; real HR models report
    0.65-0.85), with most of that signal visible in the files.
    """

    voluntary_per_year: float = 0.135
    involuntary_per_year: float = 0.03
    # x = log1p(min(days since last recognition, 365) / 30)
    beta_recognition_drought: float = 1.1
    # extra drought sensitivity for stars (performance latent > star_threshold)
    beta_star_drought: float = 0.5
    # x = 1 - held 1:1s in the last 3 months / 6 (clipped to [0, 1])
    beta_one_on_one_lapse: float = 2.4
    # x = min(days since a 1:1 with a career topic, 365) / 365
    beta_no_career_talk: float = 1.8
    # x = clip(3.5 - latent autonomy, 0, 2.5)
    beta_autonomy_low: float = 1.0
    # x = clip(latent autonomy 3 months ago - now, 0, 2)
    beta_autonomy_drop: float = 1.2
    # x = clip(3.5 - latent growth, 0, 2.5)
    beta_growth_low: float = 0.9
    # x = min(months since promotion, 72) / 36
    beta_since_promotion: float = 0.8
    frailty_sd: float = 0.2
    star_threshold: float = 0.85
    # tenure (years) upper bounds and the multiplier below each; the last
    # multiplier applies beyond the last bound
    tenure_bounds: tuple[float, ...] = (1.0, 2.0, 5.0)
    tenure_multipliers: tuple[float, ...] = (1.8, 1.5, 1.0, 0.75)
    # involuntary: h_inv = c_m * exp(beta * performance latent), signals play no role
    beta_involuntary_performance: float = -0.9
    voluntary_cap: float = 0.6
    involuntary_cap: float = 0.3


HAZ = Hazard()
