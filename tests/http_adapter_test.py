#!/usr/bin/python3
"""The HTTP adapter from outside, with python3-requests.

Starts `trainbus run parallel_models.yaml --forever --auth_token=...
--dashboard=127.0.0.1:0` (one softmax model), then: every call without the
token is 401 with a JSON error saying how to pass it; a subscriber on
[feedback] (a quiet resource the dashboard declares; chunked JSON lines, and
SSE) sees the samples this script publishes as JSON (784 values, and base64)
and as a raw 784-byte body with ?label=; a sample published to the training
stream [mnist] is accepted; bad bodies are 400, unknown resources 404. Stops the run. Every wait polls a
condition with a deadline.

  tests/http_adapter_test.py TRAINBUS PARALLEL_MODELS.yaml
"""

import base64
import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from polling import stop_process, wait_for  # noqa: E402

TRAINBUS, SPEC = sys.argv[1:3]
TOKEN = "s3cret-token"
AUTH = {"Authorization": "Bearer " + TOKEN}
TMP = tempfile.mkdtemp(prefix="http_adapter_", dir=os.environ.get("TEST_TMPDIR"))


class HttpAdapterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lines = []
        cls.proc = subprocess.Popen(
            [TRAINBUS, "run", SPEC, "--forever", "--models=softmax", "--quiet",
             "--out_dir=", f"--registry_dir={TMP}/registry", "--test_limit=200",
             f"--auth_token={TOKEN}", "--dashboard=127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=dict(os.environ, HOME=TMP))
        threading.Thread(target=lambda: [cls.lines.append(l) for l in cls.proc.stdout],
                         daemon=True).start()

        def address():
            if cls.proc.poll() is not None:
                raise AssertionError("trainbus run ended:\n" + "".join(cls.lines))
            return next((re.search(r"(http://\S+)", l).group(1)
                         for l in cls.lines if "dashboard: http" in l), None)
        cls.url = wait_for("the dashboard's address", address, 60)
        # The run's bus is attached once the state says so.
        wait_for("the run to start", lambda: requests.get(
            cls.url + "v1/run", headers=AUTH, timeout=10).json()["state"] == "running", 60)

    @classmethod
    def tearDownClass(cls):
        stop_process(cls.proc)

    def test_every_call_needs_the_token(self):
        for method, path in [("GET", "v1/run"), ("GET", "metrics"), ("GET", ""),
                             ("POST", "v1/resources/mnist:publish"),
                             ("GET", "v1/resources/mnist:subscribe")]:
            r = requests.request(method, self.url + path, timeout=10)
            self.assertEqual(r.status_code, 401, path)
            self.assertIn("Authorization: Bearer", r.json()["error"], path)
            wrong = requests.request(method, self.url + path, timeout=10,
                                     headers={"Authorization": "Bearer nope"})
            self.assertEqual(wrong.status_code, 401, path)
        self.assertEqual(requests.get(self.url + "v1/run", params={"token": TOKEN},
                                      timeout=10).status_code, 200)

    def subscribe(self, fmt):
        """A subscriber thread on [feedback]; returns a queue of its messages."""
        out = queue.Queue()
        params = {"format": "jsonl"} if fmt == "jsonl" else {}
        ready = threading.Event()

        def read():
            try:
                follow()
            except requests.exceptions.RequestException:
                pass  # the run stopped at the end of the tests

        def follow():
            with requests.get(self.url + "v1/resources/feedback:subscribe", params=params,
                              headers=AUTH, stream=True, timeout=60) as r:
                out.put(("status", r.status_code, r.headers.get("Content-Type")))
                ready.set()
                for line in r.iter_lines():
                    if not line:
                        continue
                    text = line.decode()
                    if fmt == "sse":
                        if not text.startswith("data: "):
                            continue
                        text = text[len("data: "):]
                    out.put(("message", json.loads(text)))
        threading.Thread(target=read, daemon=True).start()
        self.assertTrue(ready.wait(30))
        return out

    def wait_for_http_samples(self, messages, labels):
        seen = []

        def got_all():
            try:
                while True:
                    kind, *rest = messages.get_nowait()
                    if kind == "message" and rest[0].get("source") == "http":
                        seen.append(rest[0])
            except queue.Empty:
                pass
            return sorted(m["label"] for m in seen) == sorted(labels)
        wait_for(f"samples labelled {labels} from the adapter", got_all, 30)
        return seen

    def test_publish_and_subscribe(self):
        lines = self.subscribe("jsonl")
        status = lines.get(timeout=10)
        self.assertEqual(status[1], 200)
        self.assertTrue(status[2].startswith("application/x-ndjson"))
        pixels = bytes(range(256)) * 3 + bytes(16)  # 784 bytes
        r = requests.post(self.url + "v1/resources/feedback:publish", headers=AUTH,
                          json={"image": list(pixels), "label": 3}, timeout=30)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json()["resource"], "feedback")
        self.assertIsInstance(r.json()["offset"], int)
        r = requests.post(self.url + "v1/resources/feedback:publish", params={"label": 5},
                          headers=dict(AUTH, **{"Content-Type": "application/octet-stream"}),
                          data=pixels, timeout=30)
        self.assertEqual(r.status_code, 200, r.text)
        r = requests.post(self.url + "v1/resources/feedback:publish", headers=AUTH,
                          json={"image": base64.b64encode(pixels).decode(), "label": 7},
                          timeout=30)
        self.assertEqual(r.status_code, 200, r.text)
        seen = self.wait_for_http_samples(lines, [3, 5, 7])
        for m in seen:
            self.assertEqual(base64.b64decode(m["pixels_b64"]), pixels)
            self.assertEqual(m["shape"], [28, 28])
        # The training stream takes one too (the model trains on it).
        r = requests.post(self.url + "v1/resources/mnist:publish", headers=AUTH,
                          json={"image": list(pixels), "label": 2}, timeout=30)
        self.assertEqual(r.status_code, 200, r.text)

    def test_server_sent_events(self):
        events = self.subscribe("sse")
        self.assertTrue(events.get(timeout=10)[2].startswith("text/event-stream"))
        r = requests.post(self.url + "v1/resources/feedback:publish", headers=AUTH,
                          json={"image": [0] * 784, "label": 1}, timeout=30)
        self.assertEqual(r.status_code, 200, r.text)
        self.wait_for_http_samples(events, [1])

    def test_bad_requests(self):
        def post(path, headers=None, **kw):
            return requests.post(self.url + path, headers=dict(AUTH, **(headers or {})),
                                 timeout=30, **kw)
        r = post("v1/resources/nope:publish", json={"image": [0] * 784})
        self.assertEqual(r.status_code, 404)
        self.assertIn("not declared", r.json()["error"])
        r = post("v1/resources/mnist:publish", json={"image": [0] * 10})
        self.assertEqual(r.status_code, 400)
        self.assertIn("784", r.json()["error"])
        r = post("v1/resources/mnist:publish", json={"image": [0] * 784, "label": -2})
        self.assertEqual(r.status_code, 400)
        r = post("v1/resources/mnist:publish", data=b"not an image",
                 headers={"Content-Type": "image/png"})
        self.assertEqual(r.status_code, 400)
        r = requests.get(self.url + "v1/resources/mnist:publish", headers=AUTH, timeout=10)
        self.assertEqual(r.status_code, 405)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
