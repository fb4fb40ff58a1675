"""The one place that chooses the Keras version: Keras 2 (`tf-keras`), which TFRS requires.

Moving to Keras 3 later is a change to this module alone; everything else imports `tf` and `keras`
from here. Importing this module only makes the choice; TensorFlow itself is imported when `tf` or
`keras` is first asked for, so `import ctr` and `ctr --help` do not pay TensorFlow's start-up.
"""

import contextlib
import ctypes
import glob
import importlib.util
import os
import sys
from typing import TYPE_CHECKING, Any

# Must be set before tensorflow first resolves `tf.keras`; TFRS only works on Keras 2.
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__all__ = ["keras", "tf"]

if TYPE_CHECKING:
    import tensorflow as tf

    keras = tf.keras


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import tensorflow as tf

    keras = tf.keras
    if not keras.__name__.startswith("tf_keras"):  # pragma: no cover - guards a broken environment
        raise ImportError("ctr needs tf.keras to be Keras 2 (the tf-keras package); found " + keras.__name__
                          + " (was tf.keras used before ctr was imported?)")
    globals().update(tf=tf, keras=keras)
    return globals()[name]


def _load_before_tensorflow() -> None:
    """Load onnxruntime-extensions' native library, when it is installed, ahead of TensorFlow (at
    `import ctr`, so that it precedes the user's own `import tensorflow` too; about 5 ms).

    Loaded after TensorFlow, its regular-expression ops return their input unchanged
    (onnxruntime-extensions 0.15 with TensorFlow 2.21), and ONNX exports clean and split text and
    bags with them: the model would serve other tokens than it learned. Loaded first, both work.
    """
    if "tensorflow" in sys.modules:
        return
    found = importlib.util.find_spec("onnxruntime_extensions")
    for folder in (found.submodule_search_locations or []) if found is not None else []:
        for library in glob.glob(os.path.join(folder, "_extensions_pydll*")):
            if not library.endswith(".pyi"):
                with contextlib.suppress(OSError):  # not loadable: onnx_session says so if it is used
                    ctypes.CDLL(library)
                return


_load_before_tensorflow()
