#!/usr/bin/python3
"""The dashboard in a real browser (headless Chromium through Selenium).

Part 1 runs experiments/parallel_models.yaml with --dashboard on a free
loopback port, loads the page and checks that every model's curve has points
and that they grow while the run goes on, and that the topology graph shows
every component of the spec. While the run goes it takes the screenshot the
README shows (dashboard_parallel_models.png, copied to docs/dashboard.png):
every curve partly drawn, rates above 0 on the graph, every panel in view.
Once the run is over (--dashboard_hold keeps the page up) it takes another.

Part 2 runs experiments/production_routing.yaml (which has live traffic and
so predictions), waits for a thumbnail, clicks a class and checks that the
labelled sample reached the bus resource `feedback`.

Screenshots go to $TEST_UNDECLARED_OUTPUTS_DIR (and to $TB_SCREENSHOT_DIR when
set, e.g. docs/). Run by /usr/bin/python3 (Debian's selenium):
  tests/dashboard_browser_test.py TRAINBUS PARALLEL_MODELS.yaml PRODUCTION.yaml
Every wait polls a condition with a deadline; nothing sleeps and hopes.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

import yaml
from selenium import webdriver
from selenium.webdriver.common.by import By

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from polling import stop_process, wait_for  # noqa: E402

TRAINBUS, PARALLEL, PRODUCTION = sys.argv[1:4]
OUT_DIR = os.environ.get("TEST_UNDECLARED_OUTPUTS_DIR", tempfile.gettempdir())
TMP = tempfile.mkdtemp(prefix="dashboard_test_",
                       dir=os.environ.get("TEST_TMPDIR"))


class Run:
    """A `trainbus run --dashboard=127.0.0.1:0 --dashboard_hold` child."""

    def __init__(self, spec, *flags):
        self.lines = []
        self.proc = subprocess.Popen(
            [TRAINBUS, "run", spec, "--dashboard=127.0.0.1:0", "--dashboard_hold",
             "--quiet", "--out_dir=", f"--registry_dir={TMP}/registry", *flags],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=dict(os.environ, HOME=TMP))
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        line = wait_for("the dashboard's address", lambda: self._find("dashboard: http"), 60)
        self.url = re.search(r"(http://\S+)", line).group(1)

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)

    def _find(self, text):
        if self.proc.poll() is not None and not any(text in l for l in self.lines):
            raise AssertionError("trainbus run ended early:\n" + "".join(self.lines))
        return next((l for l in self.lines if text in l), None)

    def get(self, path):
        with urllib.request.urlopen(self.url + path.lstrip("/"), timeout=10) as r:
            return json.load(r)

    def wait_finished(self, timeout_s):
        wait_for("the run to finish", lambda: self._find("the run is over"), timeout_s)

    def stop(self):
        stop_process(self.proc)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(what, port, timeout_s=120):
    def connects():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False
    wait_for(f"{what} to listen on 127.0.0.1:{port}", connects, timeout_s)


class Browser:
    """Headless Chromium driven by chromedriver, both started here on 127.0.0.1.

    Selenium's own launcher and chromedriver's both reach their child through
    the name `localhost`, which a minimal root without /etc/hosts cannot
    resolve ("Can not connect to the Service", "unable to connect to
    renderer"). So Chromium is started with a DevTools port on 127.0.0.1 and
    chromedriver attaches to that address; nothing here looks a name up.
    """

    def __init__(self):
        devtools, driver_port = free_port(), free_port()
        log = open(os.path.join(TMP, "chromium.log"), "w")
        self.chromium = subprocess.Popen(
            ["/usr/bin/chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
             "--disable-dev-shm-usage", "--window-size=1400,1900", "--no-first-run",
             f"--user-data-dir={TMP}/chromium", f"--remote-debugging-port={devtools}",
             "--remote-debugging-address=127.0.0.1", "about:blank"],
            stdout=log, stderr=subprocess.STDOUT)
        self.chromedriver = subprocess.Popen(
            ["/usr/bin/chromedriver", f"--port={driver_port}", "--allowed-ips=127.0.0.1"],
            stdout=log, stderr=subprocess.STDOUT)
        wait_listening("chromium's DevTools", devtools)
        wait_listening("chromedriver", driver_port)
        options = webdriver.ChromeOptions()
        options.debugger_address = f"127.0.0.1:{devtools}"
        self.driver = webdriver.Remote(command_executor=f"http://127.0.0.1:{driver_port}",
                                       options=options)
        self.driver.set_window_size(1400, 1900)

    def quit(self):
        try:
            self.driver.quit()
        finally:
            for proc in (self.chromedriver, self.chromium):
                stop_process(proc)


def screenshot(driver, name):
    path = os.path.join(OUT_DIR, name)
    driver.save_screenshot(path)
    if os.environ.get("TB_SCREENSHOT_DIR"):
        shutil.copy(path, os.path.join(os.environ["TB_SCREENSHOT_DIR"], name))
    return path


def spec_components(path):
    with open(path) as f:
        spec = yaml.safe_load(f)
    ids = [f"source:{s['name']}" for s in spec.get("sources") or []]
    ids += [f"resource:{r['name']}" for r in spec.get("resources") or []]
    ids += [f"model:{m['name']}" for m in spec.get("models") or []]
    ids += [f"consumer:{c['name']}" for c in spec.get("consumers") or []]
    return ids


class DashboardTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.browser = Browser()  # before the runs: Chromium is slow to start
        cls.driver = cls.browser.driver

    @classmethod
    def tearDownClass(cls):
        cls.browser.quit()

    def curve_counts(self):
        return self.driver.execute_script(
            "const c = (window.tbState || {}).curves || {};"
            "return Object.fromEntries(Object.entries(c).map(([k, v]) => [k, v.length]));")

    def test_1_parallel_models_curves_graph_and_screenshot(self):
        report_json = os.path.join(TMP, "parallel_models.json")
        run = Run(PARALLEL, "--train_limit=60000", "--test_limit=1000",
                  f"--report_json={report_json}")
        try:
            models = [m["name"] for m in run.get("/v1/run")["models"]]
            self.assertEqual(len(models), 4)
            self.driver.get(run.url)
            first = wait_for(
                "a point on every model's curve",
                lambda: (lambda c: c if all(c.get(m, 0) > 0 for m in models) else None)(
                    self.curve_counts()), 120)
            self.assertEqual(run.get("/v1/run")["state"], "running",
                             "the run ended before the page had its first points; "
                             "raise --train_limit")
            wait_for("every curve to grow while the run goes on",
                     lambda: all(self.curve_counts()[m] > first[m] for m in models), 120)
            self.take_mid_run_screenshot(run)
            expected = spec_components(PARALLEL)
            # Read in one script: the graph is redrawn every second.
            drawn = wait_for(
                "every component in the graph",
                lambda: (lambda ids: ids if set(expected) <= set(ids) else None)(
                    self.driver.execute_script(
                        "return [...document.querySelectorAll('#topology g.node')]"
                        ".map(g => g.getAttribute('data-id'));")), 30)
            self.assertLessEqual(set(expected), set(drawn))
            # Live figures on the graph: the edges into the models carry rates.
            wait_for("live rates on the graph", lambda: "/s" in self.driver.find_element(
                By.ID, "topology").text, 30)

            run.wait_finished(600)
            self.assertEqual(run.get("/v1/run")["state"], "finished")
            points = sum(p["split"] == "test" for p in
                         run.get("/v1/metrics/history")["points"])
            # The page catches up with the last points, then the picture.
            wait_for("the page to have every point",
                     lambda: sum(self.curve_counts().values()) >= points, 30)
            print("screenshot:", screenshot(self.driver, "dashboard_parallel_models_final.png"))
            self.check_metrics_match_report(run, report_json)
        finally:
            run.stop()

    def take_mid_run_screenshot(self, run):
        """The README's picture (docs/dashboard.png): taken while the run
        goes, with every curve partly drawn, messages flowing on the graph's
        edges and every panel inside the window."""
        wait_for("a rate above 0/s on the graph", lambda: re.search(
            r"(^|\s)[1-9][0-9]*/s", self.driver.find_element(By.ID, "topology").text), 30)
        # Every panel (curves, topology, leaderboard, serving, predictions)
        # inside the window, so that the picture shows them all.
        cut = self.driver.execute_script(
            "return [...document.querySelectorAll('main section')]"
            ".filter(s => s.getBoundingClientRect().bottom > window.innerHeight)"
            ".map(s => s.id);")
        self.assertEqual(cut, [], "panels below the window: make --window-size taller")
        self.assertEqual(self.driver.find_element(By.ID, "run-state").text, "running")
        print("screenshot:", screenshot(self.driver, "dashboard_parallel_models.png"))
        # Still running after the picture: it shows the run mid-way.
        self.assertEqual(run.get("/v1/run")["state"], "running",
                         "the run ended before the mid-run screenshot; raise --train_limit")

    def check_metrics_match_report(self, run, report_json):
        """/metrics after the run: promtool accepts it, and its counters are
        the bus's own figures in the run's report."""
        with urllib.request.urlopen(run.url + "metrics", timeout=10) as r:
            text = r.read().decode()
        check = subprocess.run(["promtool", "check", "metrics"], input=text,
                               capture_output=True, text=True)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        samples = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                samples[name] = float(value)
        with open(report_json) as f:
            bus = json.load(f)["bus"]
        self.assertTrue(bus)
        for r in bus:
            self.assertEqual(samples[f'trainbus_resource_published_total{{resource="{r["resource"]}"}}'],
                             r["published"], r["resource"])
            for sub in r["subscriptions"]:
                for counter in ["delivered", "filtered", "dropped"]:
                    key = [k for k in samples if k.startswith(
                        f'trainbus_subscription_{counter}_total{{resource="{r["resource"]}",'
                        f'subscription="{sub["name"]}",')]
                    self.assertEqual(len(key), 1, (counter, r["resource"], sub["name"]))
                    self.assertEqual(samples[key[0]], sub[counter], key[0])

    def test_2_feedback_click_reaches_the_feedback_resource(self):
        images = os.path.join(TMP, "images")
        os.makedirs(images, exist_ok=True)
        run = Run(PRODUCTION, "--train_limit=6000", "--test_limit=500",
                  "--replay_limit=2000", "--replay_rate=40", "--jsonl=",
                  f"--export_dir={images}")
        try:
            self.driver.get(run.url)
            wait_for("a prediction thumbnail", lambda: self.driver.find_elements(
                By.CSS_SELECTOR, ".prediction img"), 120)
            self.assertEqual(run.get("/v1/run")["state"], "running",
                             "the live traffic ended before the page showed a "
                             "thumbnail; raise --replay_limit or lower --replay_rate")
            # Clicks the class after the predicted one on the newest card, in
            # one script (cards come and go as predictions arrive).
            other = self.driver.execute_script("""
                const card = document.querySelector('.prediction');
                const predicted = Number(card.querySelector('button.predicted')
                                             .getAttribute('data-class'));
                const other = (predicted + 1) % 10;
                card.querySelector(`button[data-class='${other}']`).click();
                return other;""")
            try:
                sent = wait_for("the feedback answer", lambda: self.driver.execute_script(
                    "return window.tbState.feedbackSent;"), 30)
            except AssertionError:
                raise AssertionError("no feedback answer; the page says: " +
                                     self.driver.find_element(By.ID, "feedback-status").text)
            self.assertEqual(sent[0]["label"], other)

            def feedback_published():
                for r in run.get("/v1/topology")["resources"]:
                    if r["name"] == "feedback" and r["published"] >= 1:
                        return r
                return None
            wait_for("the feedback resource to count the sample", feedback_published, 30)
            screenshot(self.driver, "dashboard_production_routing.png")
        finally:
            run.stop()


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
