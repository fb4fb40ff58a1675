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
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator
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
    tf = _import_tensorflow()
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

_M_TOP_PAD = -2  # glibc's malloc.h
HEAP_PAD = 16 << 20


def _keep_heap_pad() -> None:
    """Have glibc's malloc keep 16 MB free at the top of each of its heaps, where it keeps 128 KB, unless
    the process sets `MALLOC_TOP_PAD_` itself (`MALLOC_TOP_PAD_=131072` restores glibc's default).

    A training step frees its tensors as it ends; glibc then handed the free top of each thread's heap
    back to the system, and the next step faulted the same pages in again: some 2,000 page faults a step
    for AutoInt on MovieLens 100K at batch 256, which trained at 27,000 examples/s, against 39,000 with
    the pad (scratch runs). What it costs is up to 16 MB kept per heap. Without glibc (macOS, Windows)
    there is nothing to set.
    """
    if "MALLOC_TOP_PAD_" in os.environ:
        return
    with contextlib.suppress(OSError, AttributeError, TypeError):
        ctypes.CDLL(None).mallopt(_M_TOP_PAD, HEAP_PAD)


_keep_heap_pad()

# A C++ log line: absl's (`I0000 00:00:1796264726.372665    8062 port.cc:153] ...`) or TensorFlow's
# own (`2025-09-17 14:44:05.157831: I external/...cc:32] ...`); the group is its severity.
_LOG_LINE = re.compile(r"^(?:([IWEF])\d{4} \d\d:\d\d:\d+\.\d+ +\d+ |\d{4}-\d\d-\d\d [\d:.]+: ([IWEF]) )")
_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"


def _import_tensorflow() -> Any:
    """Import TensorFlow (and find its devices) with its start-up log held to `TF_CPP_MIN_LOG_LEVEL`.

    TensorFlow 2.21 writes its start-up lines through absl before absl is initialised, which ignores
    that setting (tensorflow/tensorflow#100442): every `ctr` command began with seven lines of
    oneDNN and CUDA notices, one an "E" line on any machine without a GPU, above what it had to say.
    """
    with _startup_log_held():
        import tensorflow as tf

        tf.config.list_physical_devices()  # the CUDA probe logs on first use: here, not mid-fit
    return tf


@contextlib.contextmanager
def _startup_log_held() -> Iterator[None]:
    """The process's stderr held in a file, then written back without the lines below the level.
    Nothing else is dropped. Nothing is held when TensorFlow is loaded already (a user who imported
    it first sees its log), at level 0 (so that a crash inside TensorFlow's start-up, an abort which
    no Python code outlives, still shows its last words), or without a usable fd 2."""
    saved = None
    if "tensorflow" not in sys.modules and _log_level() > 0:
        with contextlib.suppress(OSError, ValueError):  # ValueError: a closed sys.stderr (a windowed process)
            sys.stderr.flush()
            saved = os.dup(2)
    if saved is None:
        yield
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            kept = memoryview(_startup_log_kept(held.read().decode("utf-8", "replace")).encode())
            while kept:  # a pipe may take part of it at a time
                kept = kept[os.write(2, kept):]


def _startup_log_kept(text: str) -> str:
    """`text` without the C++ log lines below `TF_CPP_MIN_LOG_LEVEL` and absl's preamble; when the
    log said there is no CUDA driver, the failed CUDA initialisation that follows says it again."""
    level = _log_level()
    if level <= 0:
        return text
    no_driver = "Could not find cuda drivers" in text
    kept, keep = [], True
    for line in text.splitlines(keepends=True):
        found = _LOG_LINE.match(line)
        if found:
            severity = "IWEF".index(found.group(1) or found.group(2))
            keep = severity >= level and not (no_driver and "failed call to cuInit" in line)
        elif line.rstrip("\n") == _ABSL_PREAMBLE:
            continue
        if keep:
            kept.append(line)
    return "".join(kept)


def _log_level() -> int:
    """TensorFlow's `TF_CPP_MIN_LOG_LEVEL` (0 shows everything; unreadable counts as 0, as in TensorFlow)."""
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        return 0


_TOLD: set[tuple[str, str]] = set()  # the (policy, floatx) pairs float32_layers has warned of


@contextlib.contextmanager
def float32_layers() -> Iterator[None]:
    """Keras layers (and metrics) made inside compute in float32, whatever dtype policy or floatx the
    process set for its own models (mixed precision, float64): ctr's preprocessing, fused embedding
    tables and row-wise optimizer updates are float32 throughout, and a layer takes its dtype when it
    is made. The process's settings are back on leaving; when they are float32 nothing is touched."""
    keras = __getattr__("keras")
    policy, floatx = keras.mixed_precision.global_policy(), keras.backend.floatx()
    if policy.name == "float32" and floatx == "float32":
        yield
        return
    if (policy.name, floatx) not in _TOLD:  # once: every model made and every export would say it again
        _TOLD.add((policy.name, floatx))
        warnings.warn(f"ctr's models compute in float32: the process's Keras dtype policy ({policy.name!r}) and floatx "
                      f"({floatx!r}) apply to other models, not to ctr's", stacklevel=1)
    keras.backend.set_floatx("float32")
    keras.mixed_precision.set_global_policy("float32")
    try:
        yield
    finally:
        keras.backend.set_floatx(floatx)
        # None is "follow floatx", the state when no policy was set (then its name is floatx's).
        keras.mixed_precision.set_global_policy(None if policy.name == floatx else policy)
