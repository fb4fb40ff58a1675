"""`ctr serve`: an export behind TensorFlow Serving's REST predict API, on this machine.

For trying a client, a request's JSON or an integration before the export goes to TensorFlow
Serving: the same URLs (`/v1/models/NAME[/versions/N]:predict`; `GET /v1/models/NAME` for its
status and `.../metadata` for its signatures), the same two request forms (`instances`: a list of
rows; `inputs`: columns) and the same response forms (`predictions`, `outputs`). A bad request gets
ctr's error, naming the feature, as a 400 with `{"error": ...}`. The standard library's threading
HTTP server: one thread a request.
"""

from __future__ import annotations

import base64
import binascii
import errno
import gzip
import json
import math
import re
import socket
import sys
import threading
import traceback
import zlib
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

from . import data as ctr_data
from ._args import check_arguments
from .errors import ArgumentError, CtrError, DataError
from .export import ServedModel, load
from .features import raw_text

__all__ = ["Server"]

_PREDICT = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/\d+|/labels/[^/:]+)?:predict$")
_STATUS = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/\d+|/labels/[^/:]+)?(?P<metadata>/metadata)?/?$")
_LARGEST_BODY = 64 << 20  # bytes; a request beyond it is refused before it is read (or inflated, if gzipped)
_SMALLEST_GZIPPED = 1024  # bytes of an answer; below it, compressing costs more than it saves


class Server:
    """An export (`ctr.load`'s kinds: click models, recommenders, pipelines) served over HTTP as
    TensorFlow Serving's REST API serves it. `start()` serves from a background thread (and returns
    the server, a context manager that stops it); `serve_forever()` serves from this one."""

    def __init__(self, path: str | Path, host: str = "127.0.0.1", port: int = 8501, name: str | None = None,
                 log_requests: bool = True):
        check_arguments("Server", port=port)
        self.export = load(path)
        self.name = name or Path(path).resolve().name
        self.log_requests = log_requests
        self._inputs: dict[str, dict[str, None]] = {}  # signature → the request keys it takes, in order
        try:
            self._http = ThreadingHTTPServer((host, port), _handler(self))
        except OSError as err:
            raise CtrError(f"cannot serve at {host}:{port} ({err.strerror or err}); "
                           + ("another process holds that port: pass another (0 picks a free one)"
                              if err.errno == errno.EADDRINUSE else "check the host name")) from None
        self._http.daemon_threads = True
        self._thread: threading.Thread | None = None
        self._serving = False  # serve_forever running in some thread

    @property
    def url(self) -> str:
        """The model's URL: append `:predict` to score, GET it for the status."""
        host, port = self._http.server_address[:2]
        if host in ("0.0.0.0", "::", ""):  # every interface: no address to send to; this machine's name is one
            host = socket.gethostname()
        return f"http://{host}:{port}/v1/models/{self.name}"

    def start(self) -> Server:
        """Serve from a background thread until `stop()`."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._http.serve_forever, name=f"ctr serve {self.name}",
                                            daemon=True)
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve from this thread until interrupted (Ctrl-C) or `stop()` from another."""
        self._serving = True
        try:
            self._http.serve_forever()
        finally:
            self._serving = False
            self._http.server_close()

    def stop(self) -> None:
        """Stop serving and free the port (a server never started is closed: `shutdown` would wait for
        a loop that never runs)."""
        if self._thread is not None or self._serving:
            self._http.shutdown()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._http.server_close()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Server({self.url!r}, model={self.export.metadata.get('model')!r})"

    # -- requests -------------------------------------------------------------------------------
    def respond(self, method: str, path: str, body: bytes | None) -> tuple[int, dict]:
        """(HTTP status, JSON body) for a request; a bad request's status is 400 with ctr's message."""
        found = (_PREDICT if method == "POST" else _STATUS).match(path.split("?")[0])
        if found is None:
            return HTTPStatus.NOT_FOUND, {"error": f"no such {method} path: {path}; this server answers "
                                                   f"GET {self.url} and POST {self.url}:predict"}
        if found["name"] != self.name:
            return HTTPStatus.NOT_FOUND, {"error": f"Servable not found for request: no model named "
                                                   f"{found['name']!r}; this server serves {self.name!r}"}
        if method == "GET" and found["metadata"]:
            return HTTPStatus.OK, self.metadata()
        if method == "GET":
            return HTTPStatus.OK, {"model_version_status": [
                {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}
        try:
            return HTTPStatus.OK, self.predict(_request(body))
        except CtrError as err:
            return HTTPStatus.BAD_REQUEST, {"error": str(err)}

    def metadata(self) -> dict[str, Any]:
        """TensorFlow Serving's model metadata: the signatures served here (`serving_default`, and a
        recommender's `recommend`), each input's and output's dtype and shape (-1: any size)."""
        from tensorflow.core.framework import types_pb2

        def tensor(spec: Any) -> dict[str, Any]:
            dims = [{"size": str(-1 if d is None else d), "name": ""} for d in spec.shape.as_list()]
            return {"dtype": types_pb2.DataType.Name(spec.dtype.as_datatype_enum),
                    "tensor_shape": {"dim": dims, "unknown_rank": False}}

        loaded = self.export._loaded.signatures
        signatures = {name: {"inputs": {k: tensor(v) for k, v in loaded[name].structured_input_signature[1].items()},
                             "outputs": {k: tensor(v) for k, v in loaded[name].structured_outputs.items()},
                             "method_name": "tensorflow/serving/predict"}
                      for name in self._signatures()}
        return {"model_spec": {"name": self.name, "signature_name": "", "version": "1"},
                "metadata": {"signature_def": {"signature_def": signatures}}}

    def _signatures(self) -> list[str]:
        """The signatures this server answers: all the export's, serving_default and recommend first (a
        pipeline has no serving_default; MF and the two-tower add user_embedding, item_embedding and
        similar_items)."""
        loaded = self.export._loaded.signatures
        return [name for name in _OWN if name in loaded] + [name for name in loaded if name not in _OWN]

    def predict(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """The response to a predict request's JSON (as a dict): TensorFlow Serving's `predictions`
        for `instances`, `outputs` for `inputs`."""
        rows = "instances" in request
        signature = request.get("signature_name", "serving_default")
        data = _checked(request["instances"] if rows else request["inputs"], rows)
        if signature not in self._signatures():
            raise ArgumentError(f"signature_name {signature!r} is not served here; this model's are "
                                + ", ".join(map(repr, self._signatures())))
        self._refuse_unknown(signature, data, rows)
        if signature == "recommend":
            outputs = self._recommend(data, rows)
        elif signature != "serving_default":
            outputs = self._other(signature, data, rows)
        elif isinstance(self.export, ServedModel):  # the columns checked and named as its predict checks them
            # Not `read(data, columns)`: selecting a request's 39 columns took 0.45 ms, a third of the model's call.
            frame = ctr_data.as_source(data)
            ctr_data.require_columns(frame, self.export._columns, hint=self.export._hint)
            outputs = self.export._outputs(frame)
        else:  # a recommender's pair scores
            outputs = {"score": self.export.predict(data)}
        return _response(outputs, rows)

    def _refuse_unknown(self, signature: str, data: Any, rows: bool) -> None:
        """A DataError naming the request's keys that are none of the signature's inputs (nor the columns they
        read), as TensorFlow Serving refuses them ('does not have named input'): a mistyped optional input
        (`countr`) would otherwise be served as missing without a word."""
        known = self._inputs.get(signature)
        if known is None:  # once a signature: its inputs, then the columns they read
            inputs = list(self.export._loaded.signatures[signature].structured_input_signature[1])
            named = {f.name: f.source for f in self.export.spec.features}
            known = self._inputs[signature] = dict.fromkeys([*inputs, *(named[n] for n in inputs if n in named)])
        given = dict.fromkeys(key for row in data for key in row) if rows else dict.fromkeys(data)
        unknown = [key for key in given if key not in known]
        if unknown:
            from .spec import did_you_mean

            listed = ", ".join(map(repr, unknown[:5])) + (", ..." if len(unknown) > 5 else "")
            inputs = list(self.export._loaded.signatures[signature].structured_input_signature[1])
            raise DataError(f"the request holds {listed}, which the {signature} signature does not take"
                            f"{did_you_mean(unknown[0], sorted(known))}; its inputs are {', '.join(map(repr, inputs))} "
                            "(TensorFlow Serving refuses such a request too: 'does not have named input')")

    def _recommend(self, data: Any, rows: bool) -> dict[str, np.ndarray]:
        """The recommend signature: query rows, `k` (one for the request) and each row's `exclude`."""
        k = _scalar(data, rows, "k", 10)
        exclude = [row.get("exclude", []) for row in data] if rows else data.get("exclude")
        ids, scores = self.export.recommend(ctr_data.read(_without(data, rows, ("k", "exclude"))), k=k,
                                            exclude=exclude)
        return {"item_ids": ids, "scores": scores}

    def _other(self, name: str, data: Any, rows: bool) -> dict[str, np.ndarray]:
        """Any other signature (the embeddings, similar_items): its feature inputs read from the request by
        the spec's rules, as the export's own inputs; a scalar input (`k`, 10 unless given) one a request."""
        import tensorflow as tf

        from .export_recommend import decoded_ids
        from .features import raw_tensors

        function = self.export._loaded.signatures[name]
        inputs = function.structured_input_signature[1]
        scalars = {n: _scalar(data, rows, n, 10 if n == "k" else None) for n, s in inputs.items() if s.shape.rank == 0}
        names = [n for n in inputs if n not in scalars]
        frame = ctr_data.read(_without(data, rows, scalars), names, hint=f" (the inputs of the {name} signature)")
        if len(frame) == 0:
            raise DataError(f"the request holds no rows for the {name} signature")
        tensors = raw_tensors(ctr_data.raw_features(frame, self.export.spec, names), self.export.spec)
        tensors.update({n: tf.constant(v, inputs[n].dtype) for n, v in scalars.items()})
        return {key: decoded_ids(value) for key, value in function(**tensors).items()}


def _handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: a client's next request reuses the connection
        # The headers and the body go out in two writes: with Nagle's algorithm the body then waited for
        # the client's delayed ACK, and a one-row request took 48 ms, not 2 (measured, keep-alive).
        disable_nagle_algorithm = True
        server_version = "ctr-serve"

        def do_GET(self) -> None:
            self._answer("GET", None)

        def do_POST(self) -> None:
            try:
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    body = _chunked(self.rfile)
                else:
                    length = int(self.headers.get("Content-Length") or 0)
                    if length > _LARGEST_BODY:
                        raise _TooLargeError(f"the request is {length:,} bytes; this server reads up to "
                                             f"{_LARGEST_BODY:,}")
                    body = self.rfile.read(length)
            except (_TooLargeError, ValueError) as err:  # the rest of the body cannot be told from a next request
                self._refuse(err)
                self.close_connection = True
                return
            try:
                body = _inflated(body, self.headers.get("Content-Encoding", ""))
            except (_UnsupportedEncodingError, _TooLargeError, ValueError) as err:  # read whole: the connection goes on
                self._refuse(err)
                return
            self._answer("POST", body)

        def _refuse(self, err: Exception) -> None:
            status = {_TooLargeError: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                      _UnsupportedEncodingError: HTTPStatus.UNSUPPORTED_MEDIA_TYPE}.get(type(err),
                                                                                        HTTPStatus.BAD_REQUEST)
            self._send(status, {"error": str(err)})

        def _answer(self, method: str, body: bytes | None) -> None:
            try:
                status, answer = server.respond(method, self.path, body)
            except Exception as err:  # a fault of ours, not of the request: said, and logged in full
                traceback.print_exc(file=sys.stderr)
                status, answer = HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"{type(err).__name__}: {err}"}
            self._send(status, answer)

        def _send(self, status: int, answer: dict) -> None:
            payload = json.dumps(answer, allow_nan=False).encode()
            gzipped = len(payload) >= _SMALLEST_GZIPPED and _takes_gzip(self.headers.get("Accept-Encoding", ""))
            if gzipped:  # level 1: 1,024 predictions' 73 KB became 23 KB in 0.45 ms; level 9, 21 KB in 5.3 ms (scratch)
                payload = gzip.compress(payload, compresslevel=1)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            if gzipped:
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Vary", "Accept-Encoding")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            if server.log_requests:
                super().log_message(format, *args)

    return Handler


class _TooLargeError(Exception):
    pass


class _UnsupportedEncodingError(Exception):
    pass


def _inflated(body: bytes, encoding: str) -> bytes:
    """The body as its `Content-Encoding` says it was sent: as it is, or gzipped (as TensorFlow Serving
    takes it), inflated to at most `_LARGEST_BODY` bytes so that a small body cannot fill the memory."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "x-gzip"):
        raise _UnsupportedEncodingError(f"the request body's Content-Encoding is {encoding!r}; this server reads "
                                        "a body as it is or gzipped ('gzip')")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # the gzip wrapper
    try:
        inflated = inflater.decompress(body, _LARGEST_BODY + 1)
    except zlib.error as err:
        raise ValueError(f"the request body is not the gzip its Content-Encoding says ({err})") from None
    if len(inflated) > _LARGEST_BODY:
        raise _TooLargeError(f"the gzipped request inflates to over {_LARGEST_BODY:,} bytes, which is as much as "
                             "this server reads")
    if not inflater.eof:
        raise ValueError("the gzipped request body is cut short")
    return inflated


def _takes_gzip(accepted: str) -> bool:
    """Whether an `Accept-Encoding` header takes a gzipped answer (`gzip`, or `*`, without `q=0`)."""
    for item in accepted.lower().split(","):
        name, _, params = item.partition(";")
        if name.strip() in ("gzip", "x-gzip", "*"):
            quality = re.search(r"q\s*=\s*([0-9.]+)", params)
            try:
                return quality is None or float(quality[1]) > 0
            except ValueError:
                return False
    return False


def _chunked(stream: Any) -> bytes:
    """A body sent with `Transfer-Encoding: chunked` (no Content-Length, as clients stream one), or a
    ValueError saying how it is malformed (`_TooLargeError` beyond `_LARGEST_BODY`)."""
    body = bytearray()
    while True:
        line = stream.readline(1 << 16)
        try:
            size = int(line.split(b";")[0].strip(), 16)
        except ValueError:
            given = line.strip()[:40].decode(errors="replace")
            raise ValueError(f"the chunked request body is malformed: {given!r} is no chunk size") from None
        if size == 0:
            while stream.readline(1 << 16).strip():  # trailer fields, up to the empty line
                pass
            return bytes(body)
        if len(body) + size > _LARGEST_BODY:
            raise _TooLargeError(f"the request is over {_LARGEST_BODY:,} bytes, which is as much as this server reads")
        chunk = stream.read(size)
        if len(chunk) < size or stream.readline(1 << 16).strip():
            raise ValueError("the chunked request body is malformed: a chunk is shorter than its size says")
        body += chunk


def _request(body: bytes | None) -> dict[str, Any]:
    """The request's JSON object, or a DataError saying what a predict request holds."""
    try:
        request = json.loads(body or b"")
    except (ValueError, UnicodeDecodeError) as err:
        raise DataError(f"the request body is not JSON ({err})") from None
    if not isinstance(request, dict) or ("instances" in request) == ("inputs" in request):
        raise DataError('a predict request is a JSON object with either "instances" (a list of rows, each an '
                        'object of input name → value) or "inputs" (an object of input name → list of values), '
                        'and optionally "signature_name"')
    others = [key for key in request if key not in ("instances", "inputs", "signature_name")]
    if others:  # read as nothing, a request's "k" would give 10 items without a word
        inner = [key for key in others if key in ("k", "exclude")]
        raise DataError(f"the request holds {', '.join(map(json.dumps, others))} beside its rows; a predict request "
                        'holds "instances" or "inputs", and optionally "signature_name"'
                        + (f': a recommend request gives {" and ".join(map(json.dumps, inner))} in each instance '
                           '(or in "inputs")' if inner else ""))
    if b'"b64"' in body:
        request = {key: _decoded(value, None) if key in ("instances", "inputs") else value
                   for key, value in request.items()}
    return request


def _decoded(value: Any, name: str | None) -> Any:
    """The value with TensorFlow Serving's encoding of binary strings, `{"b64": "..."}`, read as the text
    it encodes, or as the bytes when they are no UTF-8 (a binary id), in rows, columns and lists alike."""
    if isinstance(value, dict) and set(value) == {"b64"} and isinstance(value["b64"], str):
        what = f"input {name!r}" if name else "a value"
        try:
            return raw_text(base64.b64decode(value["b64"], validate=True))
        except binascii.Error as err:
            raise DataError(f'{what}: {{"b64": {value["b64"][:40]!r}}} holds no base64 ({err})') from None
    if isinstance(value, dict):
        return {key: _decoded(item, key if name is None else name) for key, item in value.items()}
    if isinstance(value, list):
        return [_decoded(item, name) for item in value]
    return value


_OWN = ("serving_default", "recommend")  # signatures with their own handling; any other is read generically


def _without(data: Any, rows: bool, names: Any) -> Any:
    """The request's rows (or columns) without the inputs in `names` (k, exclude): the feature values."""
    if rows:
        return [{c: v for c, v in row.items() if c not in names} for row in data]
    return {c: v for c, v in data.items() if c not in names}


def _scalar(data: Any, rows: bool, name: str, default: Any) -> Any:
    """A scalar input (`k`): one value a request, given in each row or in the columns (as `[10]` too, as a
    client that sends every input as a list writes it); `default` when absent (None: it must be given)."""
    values = [row[name] for row in data if name in row] if rows else [data[name]] if name in data else []
    given = set()
    for value in values:
        value = value[0] if isinstance(value, list) and len(value) == 1 else value
        if isinstance(value, list | dict):
            raise DataError(f"{name} is a single value for the request, got {value!r}")
        given.add(value)
    if len(given) > 1:
        raise DataError(f"the instances ask for different {name} ({sorted(given, key=str)}); one request has one "
                        f"{name}, as the signature's {name} is a scalar")
    if not given and default is None:
        raise DataError(f"the request lacks {name!r}, a single value the signature needs")
    return given.pop() if given else default


def _checked(data: Any, rows: bool) -> Any:
    """A request's `instances` or `inputs`, or a DataError unless they have TensorFlow Serving's shape."""
    if rows and not (isinstance(data, list) and data and all(isinstance(row, Mapping) for row in data)):
        raise DataError("instances must be a non-empty list of rows, each an object of input name → value")
    if not rows and not isinstance(data, Mapping):
        raise DataError("inputs must be an object of input name → list of values")
    return data


def _response(outputs: Mapping[str, np.ndarray], rows: bool) -> dict[str, Any]:
    """TensorFlow Serving's response: `predictions` (one entry a row; an object of outputs when there
    are several) or `outputs` (one list an output; the list alone when there is one). A score of -inf
    (a recommendation list padded past the items left) is null: JSON has no infinity."""
    columns = {name: _json_values(values) for name, values in outputs.items()}
    if not rows:
        return {"outputs": next(iter(columns.values())) if len(columns) == 1 else columns}
    if len(columns) == 1:
        return {"predictions": next(iter(columns.values()))}
    names = list(columns)
    return {"predictions": [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]}


def _json_values(values: np.ndarray) -> list:
    def plain(x: Any) -> Any:
        if isinstance(x, float) and not math.isfinite(x):
            return None
        return x

    listed = np.asarray(values).tolist()
    if np.asarray(values).dtype.kind != "f":
        return listed
    return [[plain(x) for x in row] if isinstance(row, list) else plain(row) for row in listed]
