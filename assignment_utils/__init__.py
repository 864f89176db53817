"""Helpers for the CIFAR-10 depthwise-separable-convolution assignment.

Modules (import the one you need; importing the package itself does not import Keras):

- ``rules``: the assignment's numbers: base accuracy, epochs, parameter limit, classes, image shape.
- ``data``: load CIFAR-10 (local copy or Keras), class-balanced subsets and validation splits.
- ``augment``: jittable flip, shift and cutout augmentation in one Keras layer.
- ``models``: the assignment's reference model and our residual depthwise-separable network.
- ``training``: resumable training from a config (optimizer, schedule, augmentation, logs).
- ``evaluation``: test-set predictions (flip-averaged on request), confusion matrix, class accuracy.
- ``experiments``: reported runs: train several seeds and write one results row per run.
- ``benchmark``: training speed of a naive ``model.fit`` against this package's pipeline.
- ``run_record``: versions, backend, device and the machine-readable summary of a run.
- ``logs``: parse Keras training logs, ``History`` objects and ``CSVLogger`` files into one frame.
- ``summaries``: best and last validation accuracy of a run, or a table of runs.
- ``log_cli``: the log parser's command line (``parse-keras-log``): summaries and a plot.
- ``baselines``: the assignment's base and reference training logs.
- ``receptive_field``: output size and receptive field of every layer (the face of
  ``rf_geometry``, the arithmetic; ``rf_keras``, the Keras walk; ``rf_render``, the tables).
- ``effective_field``: the effective (gradient) receptive field, on any Keras backend.
- ``plots``: run comparisons, train-vs-validation curves and receptive-field growth plots.
- ``image_plots``: example images, confusion matrix, misclassified images, fields over an image.
- ``rubric``: check a model and its history against the assignment's rules.
- ``grade``: grade rendered notebooks of the assignment from their outputs.
"""

__version__ = "0.1.0"
