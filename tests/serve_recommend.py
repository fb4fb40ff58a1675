"""Run in a fresh interpreter: call `recommend` of exported models with TensorFlow alone.

Usage: python serve_recommend.py REQUEST.json OUT.json; each job has path, inputs, k and exclude.
"""

import json
import sys

import numpy as np
import tensorflow as tf

with open(sys.argv[1]) as handle:
    request = json.load(handle)
out = {}
for name, job in request.items():
    recommend = tf.saved_model.load(job["path"]).signatures["recommend"]
    dtypes = {k: v.dtype for k, v in recommend.structured_input_signature[1].items()}
    inputs = {k: tf.constant(np.array(v, dtype=object if dtypes[k] == tf.string else dtypes[k].as_numpy_dtype),
                             dtype=dtypes[k]) for k, v in job["inputs"].items()}
    exclude = tf.constant(np.array(job["exclude"], dtype=dtypes["exclude"].as_numpy_dtype), dtypes["exclude"])
    result = recommend(**inputs, k=tf.constant(job["k"], tf.int32), exclude=exclude)
    out[name] = {"item_ids": result["item_ids"].numpy().tolist(), "scores": result["scores"].numpy().tolist()}
assert "ctr" not in sys.modules, "the serving process must not import ctr"
with open(sys.argv[2], "w") as handle:
    json.dump(out, handle)
