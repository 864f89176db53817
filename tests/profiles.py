"""Hypothesis profiles of the property tests, and how many examples a property runs under each.

``ci`` (the default) is derandomized, so CI sees the same examples on every run (Hypothesis
seeds it from the test's source, with no example database), and keeps each property to a few
hundred examples. ``thorough`` runs 25 times as many, for a long local run::

    python -m pytest tests -m "slow or not slow" --hypothesis-profile=thorough
"""

from hypothesis import HealthCheck, settings

CI_EXAMPLES = 200

settings.register_profile(
    "ci", max_examples=CI_EXAMPLES, derandomize=True, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "thorough", max_examples=25 * CI_EXAMPLES, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow])


def examples(under_ci: int) -> int:
    """A property's example count: ``under_ci`` in the ci profile, as many times more in the
    loaded profile as its ``max_examples`` is larger (read when the test module is imported,
    after pytest's ``--hypothesis-profile`` has loaded the profile)."""
    return max(1, under_ci * settings().max_examples // CI_EXAMPLES)
