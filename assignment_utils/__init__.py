"""Helpers for the CIFAR-10 depthwise-separable-convolution assignment.

Modules (import the one you need; none of them imports Keras at package import time):

- ``receptive_field``: output size and receptive field of every layer (the face of
  ``rf_geometry``, the arithmetic; ``rf_keras``, the Keras walk; ``rf_render``, the tables).
- ``effective_field``: the effective (gradient) receptive field, on any Keras backend.
- ``logs``: parse Keras training logs, ``History`` objects and ``CSVLogger`` files.
- ``baselines``: the assignment's base and reference training logs.
- ``plots``: run comparisons and receptive-field growth plots.
- ``rubric``: check a model and its history against the assignment's rules.
- ``grade``: grade rendered notebooks of the assignment from their outputs.
- ``data``, ``models``, ``training``: CIFAR-10 loading, the models and resumable training.
"""

__version__ = "0.1.0"
