"""Run in a fresh interpreter: load exports with TensorFlow alone and score raw rows.

Usage: python serve_raw.py REQUEST.json OUT.json; REQUEST lists {"path", "inputs"} per model.
"""

import json
import sys

import numpy as np
import tensorflow as tf

with open(sys.argv[1]) as handle:
    request = json.load(handle)
out = {}
for name, job in request.items():
    serve = tf.saved_model.load(job["path"]).signatures["serving_default"]
    dtypes = {k: v.dtype for k, v in serve.structured_input_signature[1].items()}
    inputs = {k: tf.constant(np.array(v, dtype=object if dtypes[k] == tf.string else dtypes[k].as_numpy_dtype),
                             dtype=dtypes[k]) for k, v in job["inputs"].items()}
    out[name] = serve(**inputs)["probability"].numpy().tolist()
assert "ctr" not in sys.modules, "the serving process must not import ctr"
with open(sys.argv[2], "w") as handle:
    json.dump(out, handle)
