"""Run in a fresh interpreter: call exported models with TensorFlow alone, never importing ctr.

Usage: python serve_fresh.py REQUEST.json OUT.json. Each job has a path and raw inputs; a job with
`k` calls `recommend` (with `k` and `exclude`) or the `signature` it names (with `k`: similar_items),
any other calls `serving_default` for its `output` (default: probabilities).

Or python serve_fresh.py --fork-each: the tests' way. It imports TensorFlow once, then reads lines
`REQUEST.json<TAB>OUT.json<TAB>LOG` from stdin and serves each request in a process of its own, forked
before any TensorFlow work or model load (so each starts as fresh as the first, without 3 s of imports),
writing the child's output to LOG and its exit code on a line of stdout.
"""

import base64
import json
import os
import sys
import traceback

import numpy as np
import tensorflow as tf


def tensor(values, dtype):
    if dtype == tf.string:  # bytes that are no UTF-8 come as TensorFlow Serving writes them, {"b64": ...}
        values = [base64.b64decode(v["b64"]) if isinstance(v, dict) else v for v in values]
    return tf.constant(np.array(values, dtype=object if dtype == tf.string else dtype.as_numpy_dtype), dtype=dtype)


def serve(request_path, out_path):
    with open(request_path) as handle:
        request = json.load(handle)
    out, loaded = {}, {}
    for name, job in request.items():
        if job["path"] not in loaded:  # each export is loaded once, however many jobs call it
            loaded[job["path"]] = tf.saved_model.load(job["path"])
        signature = loaded[job["path"]].signatures[job.get("signature", "recommend" if "k" in job
                                                           else "serving_default")]
        dtypes = {k: v.dtype for k, v in signature.structured_input_signature[1].items()}
        inputs = {k: tensor(v, dtypes[k]) for k, v in job["inputs"].items()}
        if "k" in job:
            if "exclude" in job:
                inputs["exclude"] = tensor(job["exclude"], dtypes["exclude"])
            result = signature(**inputs, k=tf.constant(job["k"], tf.int32))
            ids = result["item_ids"].numpy()
            ids = np.vectorize(bytes.decode, otypes=[object])(ids) if ids.dtype == object else ids  # text ids
            out[name] = {"item_ids": ids.tolist(), "scores": result["scores"].numpy().tolist()}
        else:
            out[name] = signature(**inputs)[job.get("output", "probability")].numpy().tolist()
    assert "ctr" not in sys.modules, "the serving process must not import ctr"
    with open(out_path, "w") as handle:
        json.dump(out, handle)


def fork_each():
    for line in sys.stdin:
        request_path, out_path, log_path = line.rstrip("\n").split("\t")
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                os.dup2(log, 1)  # stdout is the parent's channel to the tests
                os.dup2(log, 2)
                os.chdir(os.path.dirname(os.path.abspath(request_path)))
                serve(request_path, out_path)
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status), flush=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["--fork-each"]:
        fork_each()
    else:
        serve(sys.argv[1], sys.argv[2])
