"""Hypothesis profiles for the property tests.

``ci`` (the default) is derandomized, so CI sees the same examples on every run, and keeps each
property to a few hundred examples. ``thorough`` is for a long local run::

    python -m pytest tests -m "slow or not slow" --hypothesis-profile=thorough
"""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=200, derandomize=True, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "thorough", max_examples=5000, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci")
