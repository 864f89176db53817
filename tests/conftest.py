"""The test session's settings: TensorFlow's own CPU kernels, and Hypothesis profiles.

TensorFlow 2.21's oneDNN CPU kernels corrupt the heap, and the process aborts, on the filter
gradient of some strided convolutions, e.g. a 1x1 ``Conv2D`` with ``strides=(1, 2)`` and ``same``
padding (found by ``tests/test_properties_rf.py``; TensorFlow's own kernels compute it right). So
the tests turn oneDNN off, before anything loads TensorFlow; set ``TF_ENABLE_ONEDNN_OPTS=1`` to
run them with it.

Hypothesis profiles for the property tests:

``ci`` (the default) is derandomized, so CI sees the same examples on every run, and keeps each
property to a few hundred examples. ``thorough`` is for a long local run::

    python -m pytest tests -m "slow or not slow" --hypothesis-profile=thorough
"""

import os

from hypothesis import HealthCheck, settings

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

settings.register_profile(
    "ci", max_examples=200, derandomize=True, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "thorough", max_examples=5000, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci")
