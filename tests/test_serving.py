"""`ctr serve`: an export behind TensorFlow Serving's REST predict API, answering as the export does."""

from __future__ import annotations

import concurrent.futures
import json
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from unittest.mock import ANY

import numpy as np
import pytest

import ctr
from ctr.serving import Server


def call(url: str, body: object | None = None, raw: bytes | None = None) -> tuple[int, dict]:
    """(status, JSON) of a GET (no body) or a POST of `body` as JSON (or of `raw` bytes)."""
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def rows_json(frame) -> list[dict]:
    return json.loads(frame.to_json(orient="records"))


UNREAD = ["rating", "zip_code"]  # the label, and a column no feature reads: a request holds the model's inputs


def test_a_click_model_is_served_as_tensorflow_serving_serves_it(trained, splits, tmp_path):
    model, test = trained["deepfm"], splits[2].head(6).reset_index(drop=True)
    model.export(tmp_path / "deepfm")
    served = ctr.load(tmp_path / "deepfm")
    rows = rows_json(test.drop(columns=UNREAD))
    rows[1]["age"] = None  # missing, as null
    del rows[2]["genres"]  # a row that leaves a column out: missing in that row
    expected_frame = test.copy()
    expected_frame.loc[1, "age"] = np.nan
    expected_frame.loc[2, "genres"] = None
    expected = served.predict(expected_frame)
    with Server(tmp_path / "deepfm", port=0, log_requests=False) as server:
        assert server.url.endswith("/v1/models/deepfm")
        status, answer = call(server.url + ":predict", {"instances": rows})
        assert status == 200
        np.testing.assert_allclose([p["probability"] for p in answer["predictions"]], expected, rtol=1e-6)
        np.testing.assert_allclose([p["logit"] for p in answer["predictions"]], np.log(expected / (1 - expected)),
                                   rtol=1e-4, atol=1e-5)
        columns = {c: test[c].tolist() for c in test.columns if c not in UNREAD}
        status, answer = call(server.url + "/versions/1:predict", {"signature_name": "serving_default",
                                                                   "inputs": columns})
        assert status == 200
        np.testing.assert_allclose(answer["outputs"]["probability"], served.predict(test), rtol=1e-6)
        assert call(server.url) == (200, {"model_version_status": [
            {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]})
        status, answer = call(server.url + "/versions/1/metadata")
        signature = answer["metadata"]["signature_def"]["signature_def"]["serving_default"]
        assert status == 200 and list(answer["metadata"]["signature_def"]["signature_def"]) == ["serving_default"]
        assert set(signature["inputs"]) == set(served._columns)
        assert set(signature["outputs"]) == {"probability", "logit"}
        assert signature["inputs"]["age"] == {"dtype": "DT_FLOAT", "tensor_shape": {"dim": [{"size": "-1", "name": ""}],
                                                                                   "unknown_rank": False}}
        assert signature["inputs"]["user_id"]["dtype"] == "DT_INT64"
        assert signature["inputs"]["gender"]["dtype"] == "DT_STRING"
        # Many clients at once, a row each: each answered as alone.
        whole = rows_json(test.drop(columns=UNREAD))
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            together = list(pool.map(lambda i: call(server.url + ":predict", {"instances": whole[i:i + 1]}),
                                     range(6)))
        np.testing.assert_allclose([a["predictions"][0]["probability"] for _, a in together], served.predict(test),
                                   rtol=1e-6)
        # Bad requests: ctr's error, naming what is wrong, as a 400 (404 for a path or model not served).
        status, answer = call(server.url + ":predict", {"instances": [{**rows[0], "age": "old"}]})
        assert status == 400 and "feature 'age'" in answer["error"] and "'old'" in answer["error"]
        # A key that is no input, as TensorFlow Serving refuses it, not read as nothing (a typo's feature missing).
        status, answer = call(server.url + ":predict", {"instances": [{**rows[0], "agee": 30}]})
        assert status == 400 and answer["error"].startswith("the request holds 'agee', which the serving_default "
                                                            "signature does not take (did you mean 'age'?)")
        status, answer = call(server.url + ":predict", {"inputs": {**columns, "agee": [30] * 6}})
        assert status == 400 and "'agee'" in answer["error"]
        status, answer = call(server.url + ":predict", {"instances": [{"user_id": 1}]})
        assert status == 400 and "'item_id'" in answer["error"] and "missing" in answer["error"]
        assert call(server.url + ":predict", raw=b"{not json")[0] == 400
        status, answer = call(server.url + ":predict", {"rows": rows})
        assert status == 400 and '"instances"' in answer["error"] and '"inputs"' in answer["error"]
        status, answer = call(server.url + ":predict", {"signature_name": "recommend", "instances": rows})
        assert status == 400 and "'serving_default'" in answer["error"]
        status, answer = call(server.url + ":predict", {"instances": rows, "k": 3})  # read as nothing, it said nothing
        assert status == 400 and answer["error"].startswith('the request holds "k" beside its rows') \
            and 'a recommend request gives "k" in each instance' in answer["error"]
        status, answer = call(server.url.replace("/deepfm", "/other") + ":predict", {"instances": rows})
        assert status == 404 and "'other'" in answer["error"] and "'deepfm'" in answer["error"]
        assert call(server.url + ":classify", {"instances": rows})[0] == 404
        # Headers and body are two writes: without TCP_NODELAY a kept-alive client's one-row request waited
        # for its delayed ACK (48 ms against 2 ms, measured; timing itself belongs to no test).
        assert server._http.RequestHandlerClass.disable_nagle_algorithm is True


def test_binary_strings_and_chunked_bodies_are_read_as_tensorflow_serving_reads_them(trained, splits, tmp_path):
    import base64
    import http.client

    trained["deepfm"].export(tmp_path / "deepfm")
    test = splits[2].head(4).drop(columns=UNREAD).reset_index(drop=True)
    rows = rows_json(test)

    def b64(text: str) -> dict:
        return {"b64": base64.b64encode(text.encode()).decode()}

    encoded = [{**row, "gender": b64(row["gender"]), "title": b64(row["title"])} for row in rows]
    encoded[0]["genres"] = [b64(g) for g in rows[0]["genres"].split("|")]  # a list's values too
    columns = {c: test[c].tolist() for c in test.columns} | {"occupation": [b64(v) for v in test["occupation"]]}
    with Server(tmp_path / "deepfm", port=0, log_requests=False) as server:
        plain = call(server.url + ":predict", {"instances": rows})[1]["predictions"]
        assert call(server.url + ":predict", {"instances": encoded}) == (200, {"predictions": plain})
        assert call(server.url + ":predict", {"inputs": columns})[1]["outputs"]["probability"] == [
            p["probability"] for p in plain]
        status, answer = call(server.url + ":predict", {"instances": [{**rows[0], "gender": {"b64": "no!"}}]})
        assert status == 400 and answer["error"].startswith("input 'gender': {\"b64\": 'no!'} holds no base64")
        status, answer = call(server.url + ":predict", {"instances": [{**rows[0], "gender": {"b64": "/w=="}}]})
        assert status == 200  # bytes that are no UTF-8 are a binary id (here one never seen), as TensorFlow reads them
        # A body streamed in chunks (no Content-Length), then another request on the same connection.
        host, port = server._http.server_address[:2]
        connection = http.client.HTTPConnection(host, port, timeout=60)
        body = json.dumps({"instances": rows}).encode()
        path = "/v1/models/deepfm:predict"
        connection.request("POST", path, body=iter([body[:50], body[50:]]), encode_chunked=True)
        answer = connection.getresponse()
        assert answer.status == 200 and json.loads(answer.read()) == {"predictions": plain}
        connection.request("POST", path, body=body)
        assert json.loads(connection.getresponse().read()) == {"predictions": plain}
        connection.close()
        with socket.create_connection((host, port), timeout=60) as raw:
            raw.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".encode())
            reply = raw.makefile("rb").read()
        assert reply.startswith(b"HTTP/1.1 400") and json.loads(reply.split(b"\r\n\r\n", 1)[1]) == {
            "error": "the chunked request body is malformed: 'zz' is no chunk size"}


def test_gzipped_requests_are_read_and_answers_gzipped_for_a_client_that_takes_them(trained, splits, tmp_path):
    import gzip
    import http.client

    trained["fm"].export(tmp_path / "fm")
    rows = rows_json(splits[2].head(40).drop(columns=UNREAD))
    body = json.dumps({"instances": rows}).encode()
    path = "/v1/models/fm:predict"
    with Server(tmp_path / "fm", port=0, log_requests=False) as server:
        connection = http.client.HTTPConnection(*server._http.server_address[:2], timeout=60)

        def post(payload: bytes, **headers: str) -> tuple[int, dict, dict]:
            connection.request("POST", path, body=payload, headers=headers)
            answer = connection.getresponse()
            raw = answer.read()
            said = gzip.decompress(raw) if answer.getheader("Content-Encoding") == "gzip" else raw
            return answer.status, dict(answer.getheaders()), json.loads(said)

        status, headers, plain = post(body)
        assert status == 200 and "Content-Encoding" not in headers and len(plain["predictions"]) == 40
        # A gzipped body (as TensorFlow Serving reads one); a gzipped answer to a client that takes one.
        assert post(gzip.compress(body), **{"Content-Encoding": "gzip"})[2] == plain
        status, headers, answer = post(body, **{"Accept-Encoding": "br, gzip;q=0.8"})
        assert headers["Content-Encoding"] == "gzip" and int(headers["Content-Length"]) < len(json.dumps(plain)) / 2
        assert answer == plain
        assert "Content-Encoding" not in post(body, **{"Accept-Encoding": "gzip;q=0, br"})[1]
        small = json.dumps({"instances": rows[:1]}).encode()  # too small an answer to be worth gzipping
        assert "Content-Encoding" not in post(small, **{"Accept-Encoding": "gzip"})[1]
        # What cannot be read is said; the connection goes on.
        assert post(body, **{"Content-Encoding": "br"}) == (415, ANY, {
            "error": "the request body's Content-Encoding is 'br'; this server reads a body as it is or gzipped "
                     "('gzip')"})
        status, _, said = post(body, **{"Content-Encoding": "gzip"})
        assert status == 400 and said["error"].startswith("the request body is not the gzip its Content-Encoding says")
        assert post(gzip.compress(body)[:-20], **{"Content-Encoding": "gzip"})[2] == {
            "error": "the gzipped request body is cut short"}
        bomb = gzip.compress(b" " * (65 << 20), compresslevel=1)  # 64 MB + 1 MB of spaces, in under 1 MB
        status, _, said = post(bomb, **{"Content-Encoding": "gzip"})
        assert status == 413 and said["error"] == ("the gzipped request inflates to over 67,108,864 bytes, which is "
                                                    "as much as this server reads")
        assert post(body)[2] == plain
        connection.close()


def test_a_server_names_a_port_it_cannot_take(trained, tmp_path):
    trained["lr"].export(tmp_path / "lr")
    with Server(tmp_path / "lr", port=0, log_requests=False) as server:
        port = int(server.url.split(":")[2].split("/")[0])
        with pytest.raises(ctr.CtrError, match=rf"cannot serve at 127.0.0.1:{port} .*another process holds that port"):
            Server(tmp_path / "lr", port=port)
    with pytest.raises(ctr.ArgumentError, match="port must be a port number from 0"):
        Server(tmp_path / "lr", port=70000)
    # Listening on every interface, the URL names this machine (0.0.0.0 is no address to send to).
    everywhere = Server(tmp_path / "lr", host="0.0.0.0", port=0, log_requests=False)
    assert everywhere.url.startswith(f"http://{socket.gethostname()}:")
    everywhere.stop()
    # Stopped without being started (socketserver's shutdown would wait for ever), and from another thread.
    Server(tmp_path / "lr", port=0, log_requests=False).stop()
    server = Server(tmp_path / "lr", port=0, log_requests=False)
    threading.Timer(0.5, server.stop).start()
    server.serve_forever()
    with pytest.raises(urllib.error.URLError):  # the port is closed
        call(server.url)


def _ctr_serve(export: Path, ctrl_c: bool) -> subprocess.Popen:
    """`ctr serve` started as a terminal starts it (Ctrl-C interrupts), or as a shell script's background job
    (SIGINT ignored from the start), whatever this process's own SIGINT is (a background `make test`'s is ignored)."""
    handler = "signal.default_int_handler" if ctrl_c else "signal.SIG_IGN"
    code = (f"import runpy, signal, sys; signal.signal(signal.SIGINT, {handler}); "
            f"sys.argv = ['ctr', 'serve', '--model', {str(export)!r}, '--port', '0', '--name', 'ranker']; "
            "runpy.run_module('ctr', run_name='__main__')")
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _stopped(process: subprocess.Popen) -> tuple[str, str]:
    """The output of a server told to stop; one that has not stopped in a minute is killed (its exit code then
    says so), not left running."""
    try:
        return process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        return out, err + "\n(it did not stop in 60 s, and was killed)"


def test_ctr_serve_from_the_shell_answers_and_stops_on_ctrl_c_or_kill(trained, splits, tmp_path):
    trained["fm"].export(tmp_path / "fm")
    rows = rows_json(splits[2].head(3).drop(columns=UNREAD))
    # Both at once: each takes seconds to start.
    process, background = _ctr_serve(tmp_path / "fm", ctrl_c=True), _ctr_serve(tmp_path / "fm", ctrl_c=False)
    try:
        first = process.stdout.readline()
        assert first.startswith("ctr serve: FM at http://127.0.0.1:") and first.endswith("; Ctrl-C stops\n"), first
        url = first.split(" at ")[1].split(" ")[0]
        assert url.endswith("/v1/models/ranker")
        status, answer = call(url + ":predict", {"instances": rows})
        assert status == 200
        np.testing.assert_allclose([p["probability"] for p in answer["predictions"]],
                                   ctr.load(tmp_path / "fm").predict(splits[2].head(3)), rtol=1e-6)
        # Where Ctrl-C cannot stop it, it says what will, and that does (as a process manager stops a service).
        first = background.stdout.readline()
        assert first.endswith(f"started with Ctrl-C ignored, as a background job: kill {background.pid} stops it\n")
        assert call(first.split(" at ")[1].split(" ")[0] + ":predict", {"instances": rows})[0] == 200
    finally:
        process.send_signal(signal.SIGINT)
        background.terminate()
        (out, err), (said, said_err) = _stopped(process), _stopped(background)
    assert process.returncode == 0, out + err
    assert "ctr serve: stopped" in out and '"POST /v1/models/ranker:predict HTTP/1.1" 200' in err
    assert background.returncode == 0 and said.endswith("ctr serve: stopped\n"), said + said_err
