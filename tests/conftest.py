"""The test session's settings: TensorFlow's own CPU kernels, and Hypothesis profiles.

TensorFlow 2.21's oneDNN CPU kernels corrupt the heap, and the process aborts, on the filter
gradient of some strided convolutions, e.g. a 1x1 ``Conv2D`` with ``strides=(1, 2)`` and ``same``
padding (found by ``tests/test_properties_rf.py``; TensorFlow's own kernels compute it right). So
the tests turn oneDNN off, before anything loads TensorFlow; set ``TF_ENABLE_ONEDNN_OPTS=1`` to
run them with it.

The Hypothesis profiles (``ci``, the default, and ``thorough``) live in ``profiles.py``.
"""

import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

from hypothesis import settings  # noqa: E402

import profiles  # noqa: E402, F401  (registers the ci and thorough profiles)

settings.load_profile("ci")
