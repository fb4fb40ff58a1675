"""The one place that chooses the Keras version: Keras 2 (`tf-keras`), which TFRS requires.

Moving to Keras 3 later is a change to this module alone; everything else imports `tf` and `keras`
from here.
"""

import os

# Must be set before tensorflow first resolves `tf.keras`; TFRS only works on Keras 2.
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf

keras = tf.keras

if not keras.__name__.startswith("tf_keras"):  # pragma: no cover - guards a broken environment
    raise ImportError("ctr needs tf.keras to be Keras 2 (the tf-keras package); found " + keras.__name__)

__all__ = ["keras", "tf"]
