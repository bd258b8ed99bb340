"""Simulated dyadic sessions and studies with known ground truth."""

from ._simulate import SimulatedStudy, simulate_model_data, simulate_session, simulate_study

__all__ = ["SimulatedStudy", "simulate_model_data", "simulate_session", "simulate_study"]
