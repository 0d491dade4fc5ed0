#!/usr/bin/python3
"""Golden tests of every lroctl command against `lroctl serve`.

The JSON lroctl prints is parsed with Python's json module and compared field
by field with the values the embedded server was seeded with. Bad inputs are
checked for their one-line message and their documented exit code.
"""
import json
import os
import subprocess
import sys
import unittest

import serve

LROCTL = os.environ.get("LROCTL")
PARENT = "projects/demo/locations/global/operations"


def op(i):
    return "%s/op-%05d" % (PARENT, i)


def Server(seed=20, args=("--complete-after", "0")):
    # The golden tests below need operations that stay as seeded:
    # --complete-after 0 turns the lifecycle off. LiveServeTest runs the
    # defaults.
    return serve.Server("--seed", str(seed), *args)


class LroctlTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(20)

    @classmethod
    def tearDownClass(cls):
        # SIGTERM is the documented way to stop; it must exit cleanly.
        assert cls.srv.stop() == 0

    def run_ctl(self, *args, env=None, connect=True):
        argv = [LROCTL]
        if connect:
            argv += ["--target", self.srv.target, "--plaintext"]
        argv += list(args)
        e = dict(os.environ)
        e.pop("LRO_TARGET", None)
        e.pop("LRO_TOKEN", None)
        if env:
            e.update(env)
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=e)
        return r.returncode, r.stdout, r.stderr

    def json_ok(self, *args):
        code, out, err = self.run_ctl(*args)
        self.assertEqual(code, 0, err)
        self.assertEqual(err, "")
        return json.loads(out)

    def assert_usage(self, code, err, needle):
        self.assertEqual(code, 2, err)
        lines = err.strip().split("\n")
        self.assertEqual(len(lines), 1, err)
        self.assertTrue(lines[0].startswith("lroctl: "), err)
        self.assertIn(needle, lines[0])

    # ---- get ---------------------------------------------------------------
    def test_get_succeeded(self):
        o = self.json_ok("get", op(0))
        self.assertEqual(o, {
            "name": op(0),
            "done": True,
            "response": {"@type": "type.googleapis.com/google.protobuf.StringValue",
                         "value": "result-0"},
        })

    def test_get_failed_with_details(self):
        o = self.json_ok("get", op(1))
        self.assertEqual(o["name"], op(1))
        self.assertIs(o["done"], True)
        self.assertNotIn("response", o)
        err = o["error"]
        self.assertEqual(err["code"], 3)
        self.assertEqual(err["message"], "seeded failure 1")
        self.assertEqual(len(err["details"]), 1)
        d = err["details"][0]
        self.assertEqual(d["@type"], "type.googleapis.com/google.rpc.ErrorInfo")
        self.assertEqual(d["reason"], "SEEDED_FAILURE")
        self.assertEqual(d["metadata"], {"index": "1"})

    def test_get_pending_defaults_omitted(self):
        o = self.json_ok("get", op(2))
        self.assertNotIn("done", o)  # false is the default: omitted
        self.assertEqual(o["metadata"]["@type"], "type.googleapis.com/google.protobuf.Struct")
        self.assertEqual(o["metadata"]["value"]["progress"], 2)

    def test_get_struct_response(self):
        o = self.json_ok("get", op(3))
        self.assertEqual(o["response"]["@type"], "type.googleapis.com/google.protobuf.Struct")
        self.assertIsInstance(o["response"]["value"], dict)

    def test_get_text(self):
        code, out, err = self.run_ctl("get", op(1), "--format", "text")
        self.assertEqual(code, 0, err)
        lines = out.strip().split("\n")
        self.assertTrue(lines[0].startswith("NAME"))
        self.assertIn(op(1), lines[1])
        self.assertIn("error INVALID_ARGUMENT: seeded failure 1", lines[1])

    def test_get_not_found(self):
        code, out, err = self.run_ctl("get", PARENT + "/nope")
        self.assertEqual(code, 15)  # 10 + NOT_FOUND
        self.assertEqual(out, "")
        # The error line, then the status as one line of JSON.
        lines = err.strip().split("\n")
        self.assertEqual(len(lines), 2, err)
        self.assertIn("NOT_FOUND", lines[0])
        self.assertEqual(json.loads(lines[1])["code"], 5)

    # ---- list --------------------------------------------------------------
    def test_list_pages(self):
        # Its own server: other tests cancel and delete on the shared one.
        own = Server(20)
        shared, self.srv = self.srv, own
        try:
            self._walk_pages()
        finally:
            self.srv = shared
            self.assertEqual(own.stop(), 0)

    def _walk_pages(self):
        page = self.json_ok("list", PARENT, "--page-size", "5")
        self.assertEqual([o["name"] for o in page["operations"]], [op(i) for i in range(5)])
        token = page["nextPageToken"]
        self.assertTrue(token)
        seen = 5
        while token:
            page = self.json_ok("list", PARENT, "--page-size", "5", "--page-token", token)
            for o in page["operations"]:
                self.assertEqual(o["name"], op(seen))
                seen += 1
            token = page.get("nextPageToken", "")
        self.assertEqual(seen, 20)

    def test_list_all_and_filter(self):
        allops = self.json_ok("list", PARENT, "--all", "--page-size", "3")
        self.assertEqual(set(allops.keys()), {"operations"})
        names = [o["name"] for o in allops["operations"]]
        # Other tests may have deleted some; what is left is in order, once.
        self.assertEqual(names, sorted(set(names)))
        self.assertGreaterEqual(len(names), 15)
        running = self.json_ok("list", PARENT, "--all", "--filter", "done=false")
        for o in running["operations"]:
            self.assertNotIn("done", o)
        done = self.json_ok("list", PARENT, "--all", "--filter", "done=true")
        for o in done["operations"]:
            self.assertIs(o["done"], True)
        self.assertEqual(len(running["operations"]) + len(done["operations"]), len(names))

    def test_list_text(self):
        code, out, err = self.run_ctl("list", PARENT, "--page-size", "4", "--format", "text")
        self.assertEqual(code, 0, err)
        lines = out.strip().split("\n")
        self.assertTrue(lines[0].startswith("NAME"))
        self.assertEqual(len(lines), 6)  # header, 4 rows, next page token
        self.assertTrue(lines[-1].startswith("next page token: "))

    def test_list_bad_token(self):
        code, out, err = self.run_ctl("list", PARENT, "--page-token", "bogus")
        self.assertEqual(code, 13)  # 10 + INVALID_ARGUMENT
        self.assertIn("INVALID_ARGUMENT", err)
        self.assertEqual(err.count("\n"), 2)

    # ---- cancel / delete / wait --------------------------------------------
    def test_cancel_then_get(self):
        self.assertEqual(self.json_ok("cancel", op(6)), {})
        o = self.json_ok("get", op(6))
        self.assertIs(o["done"], True)
        self.assertEqual(o["error"]["code"], 1)
        code, _, err = self.run_ctl("cancel", PARENT + "/nope")
        self.assertEqual(code, 15, err)

    def test_delete_then_get(self):
        self.assertEqual(self.json_ok("delete", op(19)), {})
        code, _, err = self.run_ctl("get", op(19))
        self.assertEqual(code, 15, err)

    def test_wait_outcomes(self):
        o = self.json_ok("wait", op(4))
        self.assertIs(o["done"], True)
        code, out, err = self.run_ctl("wait", op(5))
        self.assertEqual(code, 3, err)  # finished with an error
        self.assertEqual(json.loads(out)["error"]["code"], 3)
        self.assertIn("failed", err)
        # The deadline leaves room for the first poll on a loaded (or asan)
        # machine: the outcome asserted is "still running at the deadline".
        code, out, err = self.run_ctl("wait", op(10), "--timeout", "2s", "--poll-only",
                                      "--poll-interval", "50ms")
        self.assertEqual(code, 5, err)  # still running at the deadline
        last = json.loads(out)
        self.assertEqual(last["name"], op(10))
        self.assertNotIn("done", last)
        self.assertEqual(err.count("\n"), 1)

    def test_wait_live_progress_on_terminal(self):
        # stderr on a pseudo-terminal: lroctl redraws elapsed time, polls and
        # the progress figure; stdout (a pipe) still gets only the result.
        code, out, tty = run_tty([LROCTL, "--target", self.srv.target, "--plaintext", "wait",
                                  op(14), "--timeout", "3s", "--poll-only", "--poll-interval",
                                  "100ms"])
        self.assertEqual(code, 5)
        self.assertIn("waiting ", tty)
        self.assertIn("polls ", tty)
        self.assertIn("progress 14%", tty)
        self.assertEqual(json.loads(out)["name"], op(14))

    # ---- bad input -----------------------------------------------------------
    def test_usage_errors(self):
        code, _, err = self.run_ctl("get", op(0), "--bogus")
        self.assert_usage(code, err, "unknown flag '--bogus'")
        code, _, err = self.run_ctl("get")
        self.assert_usage(code, err, "missing NAME")
        code, _, err = self.run_ctl("frobnicate")
        self.assert_usage(code, err, "unknown command 'frobnicate'")
        code, _, err = self.run_ctl("list")
        self.assert_usage(code, err, "missing PARENT")
        code, _, err = self.run_ctl("list", PARENT, "--page-size", "many")
        self.assert_usage(code, err, "--page-size")
        code, _, err = self.run_ctl("--header", "Bad Key=1", "get", op(0))
        self.assert_usage(code, err, "--header")
        code, _, err = self.run_ctl("--header", "novalue", "get", op(0))
        self.assert_usage(code, err, "KEY=VALUE")
        code, _, err = self.run_ctl("--header", "x-ok=a\r\nInjected: 1", "get", op(0))
        self.assert_usage(code, err, "--header")
        code, _, err = self.run_ctl("get", op(0), connect=False)
        self.assert_usage(code, err, "LRO_TARGET")
        code, _, err = self.run_ctl("wait", op(0), "--timeout", "soon")
        self.assert_usage(code, err, "duration")
        code, _, err = self.run_ctl("get", "bad\x01name")
        self.assert_usage(code, err, "control characters")
        # Refusals of the library itself come with its lro_last_error() text.
        code, _, err = self.run_ctl("--header", "Bad=1", "get", op(0))
        self.assert_usage(code, err, "keys are lowercase")
        code, _, err = self.run_ctl("--header", "grpc-foo=1", "get", op(0))
        self.assert_usage(code, err, "header key 'grpc-foo' is reserved")
        code, _, err = self.run_ctl("get", "bad\udcffname")  # byte 0xff on the command line
        self.assert_usage(code, err, "name has invalid UTF-8 at byte 3")

    def test_unreadable_files_say_why(self):
        missing = "/nonexistent-lroctl-test/ca.pem"
        r = subprocess.run([LROCTL, "--target", self.srv.target, "--ca-file", missing, "get",
                            op(0)], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("cannot read CA file '%s': No such file or directory" % missing, r.stderr)
        r = subprocess.run([LROCTL, "--target", self.srv.target, "--token-file", missing, "get",
                            op(0)], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("No such file or directory", r.stderr)
        code, out, _ = self.run_ctl("--help", connect=False)
        self.assertEqual(code, 0)
        self.assertIn("Exit codes", out)
        code, out, _ = self.run_ctl("list", "--help", connect=False)
        self.assertEqual(code, 0)
        self.assertIn("--page-token", out)

    def test_token_over_plaintext_refused_and_never_printed(self):
        secret = "s3cr3t-t0ken-value"
        code, out, err = self.run_ctl("get", op(0), env={"LRO_TOKEN": secret})
        self.assert_usage(code, err, "--allow-insecure-token")
        self.assertNotIn(secret, out + err)
        # Explicitly allowed: the call goes through, and still nothing echoes it.
        code, out, err = self.run_ctl("--allow-insecure-token", "get", op(0),
                                      env={"LRO_TOKEN": secret})
        self.assertEqual(code, 0, err)
        self.assertNotIn(secret, out + err)

    def test_unreachable_target(self):
        r = subprocess.run([LROCTL, "--target", "127.0.0.1:1", "--plaintext", "get", op(0)],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 24, r.stderr)  # 10 + UNAVAILABLE
        lines = r.stderr.strip().split("\n")
        self.assertEqual(len(lines), 2, r.stderr)
        self.assertIn("UNAVAILABLE", lines[0])
        self.assertEqual(json.loads(lines[1])["code"], 14)

    def test_tls_default_refuses_plaintext_server(self):
        # Without --plaintext lroctl speaks TLS: against a plaintext server the
        # handshake fails and the RPC is UNAVAILABLE (never a silent downgrade).
        r = subprocess.run([LROCTL, "--target", self.srv.target, "--call-timeout", "3s",
                            "get", op(0)], capture_output=True, text=True, timeout=60)
        self.assertIn(r.returncode, (24, 14), r.stderr)


def run_tty(argv):
    """Runs argv with stderr on a pseudo-terminal; returns (code, stdout, tty)."""
    import pty
    master, slave = pty.openpty()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    out, _ = p.communicate(timeout=60)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return p.returncode, out, b"".join(chunks).decode()


class ServeBase(unittest.TestCase):
    SERVE_ARGS = ()

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(20, cls.SERVE_ARGS)

    @classmethod
    def tearDownClass(cls):
        assert cls.srv.stop() == 0

    def run_ctl(self, *args, env=None, timeout=60):
        argv = [LROCTL, "--target", self.srv.target, "--plaintext"] + list(args)
        e = dict(os.environ)
        e.pop("LRO_TARGET", None)
        e.pop("LRO_TOKEN", None)
        if env:
            e.update(env)
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=e)
        return r.returncode, r.stdout, r.stderr


class LiveServeTest(ServeBase):
    """A plain `lroctl serve`: pending operations progress and finish."""
    SERVE_ARGS = ()

    def test_wait_on_plain_serve_ends(self):
        # Default --complete-after is 5s: the wait must end by itself, with
        # success or the operation's failure, within it plus a margin (the
        # subprocess timeout bounds it; nothing is timed).
        code, out, err = self.run_ctl("wait", op(2), timeout=5 + 40)
        self.assertIn(code, (0, 3), err)
        o = json.loads(out)
        self.assertIs(o["done"], True)
        self.assertIn("progress", o["metadata"]["value"])

    def test_wait_several_in_order_worst_exit(self):
        # Pending seeded ops are 2, 6, 10, 14, 18, adopted in that order; with
        # --fail-every 3 (default) the third one (op-00010) fails.
        names = [op(18), op(10), op(2), op(0)]
        code, out, err = self.run_ctl("wait", *names, timeout=5 + 40)
        self.assertEqual(code, 3, err)  # the worst: one failed
        arr = json.loads(out)
        self.assertEqual([o["name"] for o in arr], names)  # the order given
        self.assertEqual([o.get("done") for o in arr], [True] * 4)
        self.assertEqual(arr[1]["error"]["code"], 10)  # ABORTED
        det = arr[1]["error"]["details"][0]
        self.assertEqual(det["reason"], "SIMULATED_FAILURE")
        self.assertEqual(det["domain"], "lro-c.testing")
        self.assertIn("response", arr[0])
        self.assertIn(op(10), err)
        # An unknown name among them: null in its place, the RPC error wins.
        code, out, err = self.run_ctl("wait", op(0), PARENT + "/nope")
        self.assertEqual(code, 15, err)
        arr = json.loads(out)
        self.assertEqual(arr[0]["name"], op(0))
        self.assertIsNone(arr[1])
        # Text: one table, rows in order.
        code, out, err = self.run_ctl("wait", op(3), op(0), "--format", "text")
        self.assertEqual(code, 0, err)
        lines = out.strip().split("\n")
        self.assertTrue(lines[0].startswith("NAME"))
        self.assertIn(op(3), lines[1])
        self.assertIn(op(0), lines[2])

    def test_wait_several_live_lines(self):
        # New operations appear through the server's own lifecycle only when
        # put; the seeded pending ones may be done by now, so wait on one done
        # and one unknown: both lines are drawn on the terminal.
        code, out, tty = run_tty([LROCTL, "--target", self.srv.target, "--plaintext", "wait",
                                  op(0), op(4)])
        self.assertEqual(code, 0, tty)
        self.assertIn(op(0) + "  ", tty)
        self.assertIn(op(4) + "  ", tty)
        self.assertIn("succeeded after", tty)
        self.assertEqual(len(json.loads(out)), 2)


class LiveProgressTest(ServeBase):
    SERVE_ARGS = ("--complete-after", "3s", "--progress-every", "200ms", "--fail-every", "0")

    def test_progress_on_terminal_then_done(self):
        code, out, tty = run_tty([LROCTL, "--target", self.srv.target, "--plaintext", "wait",
                                  op(14), "--poll-only", "--poll-interval", "100ms"])
        self.assertEqual(code, 0, tty)  # --fail-every 0: every one succeeds
        self.assertIn("progress ", tty)
        self.assertIn("done after", tty)
        self.assertIs(json.loads(out)["done"], True)


class VerboseWaitTest(ServeBase):
    SERVE_ARGS = ("--complete-after", "2s", "--progress-every", "200ms")

    def test_verbose_wait_lines(self):
        code, out, err = self.run_ctl("-v", "wait", op(2), "--poll-only", "--poll-interval",
                                      "100ms", timeout=2 + 40)
        self.assertEqual(code, 0, err)  # the first adopted one succeeds
        self.assertIn("> 127.0.0.1:", err)
        self.assertIn("/google.longrunning.Operations/GetOperation", err)
        # lro-c's events: one line per poll, numbered from 1, each with its
        # RPC's status, and one per attempt of each poll RPC.
        self.assertIn("[await] " + op(2) + ": poll 1 via GetOperation: OK (", err)
        self.assertRegex(err, r"\[await\] " + op(2) + r": poll 2 via GetOperation: OK \([0-9.]+ ms\), still running")
        self.assertRegex(err, r"\[await\] " + op(2) + r": poll [0-9]+ via GetOperation: OK \([0-9.]+ ms\), done")
        self.assertIn("[attempt 1] GetOperation " + op(2) + ": OK (", err)
        self.assertIn("[await] " + op(2) + ": succeeded, OK after ", err)


class FaultFlagsTest(ServeBase):
    SERVE_ARGS = ("--complete-after", "0",
                  "--fault", "get:op-00003=UNAVAILABLEx2@retry=100ms",
                  "--fault", "get:op-00005=RESOURCE_EXHAUSTED@retry=1500ms",
                  "--fault", "list:nowhere=FAILED_PRECONDITIONx1@reason=NOT_READY@retry=1s",
                  "--fault", "delete=PERMISSION_DENIED",
                  "--unimplemented", "wait,cancel",
                  "--latency", "20ms",
                  "--max-streams", "8")

    def test_fault_k_times_with_retry_info_verbose(self):
        code, out, err = self.run_ctl("-v", "get", op(3))
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(out)["name"], op(3))
        attempts = [l for l in err.split("\n") if "[attempt " in l]
        self.assertEqual(len(attempts), 3, err)
        self.assertIn("[attempt 1] GetOperation " + op(3) + ": UNAVAILABLE", attempts[0])
        self.assertIn("retry in 100 ms (the server's RetryInfo)", attempts[0])
        self.assertIn("[attempt 3] GetOperation " + op(3) + ": OK", attempts[2])
        self.assertIn("> x-goog-request-params: name=" + op(3), err)

    def test_latency_flag(self):
        # --latency 20ms: every attempt lroctl reports took at least that
        # long (a lower bound the server guarantees, not a timing guess).
        import re
        code, out, err = self.run_ctl("-v", "get", op(0))
        self.assertEqual(code, 0, err)
        ms = re.search(r"\[attempt 1\] GetOperation \S+: OK \(([0-9.]+) ms\)", err)
        self.assertIsNotNone(ms, err)
        self.assertGreaterEqual(float(ms.group(1)), 19.5)

    def test_error_details_text_and_json(self):
        # RetryInfo on a code that is not retried: shown, not acted upon.
        code, out, err = self.run_ctl("get", op(5), "--format", "text")
        self.assertEqual(code, 18, err)  # 10 + RESOURCE_EXHAUSTED
        lines = err.rstrip("\n").split("\n")
        self.assertEqual(lines[0], "lroctl: get failed: RESOURCE_EXHAUSTED: "
                                   "injected by lroctl serve --fault")
        self.assertEqual(lines[1], "  ErrorInfo: reason INJECTED_FAULT, domain lro-c.testing, "
                                   "metadata method=GetOperation")
        self.assertEqual(lines[2], "  RetryInfo: retry after 1.5s")
        code, out, err = self.run_ctl("get", op(5))
        self.assertEqual(code, 18, err)
        st = json.loads(err.rstrip("\n").split("\n")[-1])
        self.assertEqual(st["code"], 8)
        self.assertEqual(st["message"], "injected by lroctl serve --fault")
        self.assertEqual([d["@type"] for d in st["details"]],
                         ["type.googleapis.com/google.rpc.ErrorInfo",
                          "type.googleapis.com/google.rpc.RetryInfo"])
        self.assertEqual(st["details"][1]["retryDelay"], "1.500s")
        # BadRequest from a bad page token.
        code, out, err = self.run_ctl("list", PARENT, "--page-token", "junk", "--format", "text")
        self.assertEqual(code, 13, err)
        self.assertIn("\n  BadRequest: field page_token: page_token is not valid\n", err)
        code, out, err = self.run_ctl("list", PARENT, "--page-token", "junk")
        st = json.loads(err.rstrip("\n").split("\n")[-1])
        self.assertEqual(st["details"][1]["fieldViolations"][0]["field"], "page_token")

    def test_fault_reason_and_suffix_on_list(self):
        code, out, err = self.run_ctl("list", "projects/p/locations/nowhere", "--format", "text")
        self.assertEqual(code, 19, err)  # 10 + FAILED_PRECONDITION
        self.assertIn("  ErrorInfo: reason NOT_READY, domain lro-c.testing", err)
        self.assertIn("  RetryInfo: retry after 1s", err)
        # x1: the next call goes through (an empty collection).
        code, out, err = self.run_ctl("list", "projects/p/locations/nowhere")
        self.assertEqual(code, 0, err)

    def test_unimplemented_and_permission_denied(self):
        code, out, err = self.run_ctl("cancel", op(2))
        self.assertEqual(code, 22, err)  # 10 + UNIMPLEMENTED
        st = json.loads(err.rstrip("\n").split("\n")[-1])
        self.assertEqual(st["details"][0]["reason"], "METHOD_NOT_IMPLEMENTED")
        self.assertEqual(st["details"][0]["metadata"], {"method": "CancelOperation"})
        # Wait is unimplemented: the await falls back to polling and works.
        # (-v: its first poll is a Get, which reports the state at once, and
        # the operation is already done; events_test covers the fallback.)
        code, out, err = self.run_ctl("-v", "wait", op(0))
        self.assertEqual(code, 0, err)
        self.assertRegex(err, r"\[await\] " + op(0) + r": poll 1 via GetOperation: OK .*, done")
        code, out, err = self.run_ctl("-v", "delete", op(0), "--format", "text")
        self.assertEqual(code, 17, err)  # 10 + PERMISSION_DENIED
        self.assertIn("not retried (PERMISSION_DENIED is not a retryable code)", err)
        self.assertIn("  ErrorInfo: reason INJECTED_FAULT", err)

    def test_secrets_never_printed_verbose(self):
        secret = "s3cr3t-t0ken-in-env"
        code, out, err = self.run_ctl("-v", "--allow-insecure-token", "get", op(0),
                                      env={"LRO_TOKEN": secret})
        self.assertEqual(code, 0, err)
        self.assertIn("> authorization: Bearer <redacted>", err)
        self.assertNotIn(secret, out + err)
        import tempfile
        with tempfile.NamedTemporaryFile("w", suffix=".tok", delete=False) as tf:
            tf.write("f1le-t0ken-secret\n")
        try:
            code, out, err = self.run_ctl("--verbose", "--allow-insecure-token", "--token-file",
                                          tf.name, "--header", "x-api-key=hdr-secret-v",
                                          "--header", "x-tenant=blue", "wait", op(0), op(3))
        finally:
            os.unlink(tf.name)
        self.assertEqual(code, 0, err)
        self.assertIn("> authorization: Bearer <redacted>", err)
        self.assertIn("> x-api-key: <redacted, 12 bytes>", err)
        self.assertIn("> x-tenant: blue", err)
        self.assertIn("[await] " + op(0) + ": succeeded", err)
        for s in ("f1le-t0ken-secret", "hdr-secret-v"):
            self.assertNotIn(s, out + err)


class ServeLimitsTest(ServeBase):
    # Operations outlive several recycled connections (more cuts than a
    # single poll's retry policy has attempts): awaits must ride them all.
    SERVE_ARGS = ("--complete-after", "6s", "--progress-every", "500ms", "--max-streams", "1",
                  "--max-conn-age", "1s", "--max-conn-age-grace", "200ms")

    def test_wait_held_through_recycling(self):
        # The default await holds WaitOperation; the server cuts it when the
        # connection is recycled (GOAWAY, 200 ms grace) and lroctl still ends
        # with the operation's real outcome (op-00014: adopted 4th, succeeds).
        code, out, err = self.run_ctl("wait", op(14), timeout=2 + 40)
        self.assertEqual(code, 0, err)
        self.assertIs(json.loads(out)["done"], True)

    def test_wait_with_one_stream_and_recycling(self):
        # Both awaits share one connection that allows one stream and is
        # recycled every second; polling (short calls) rides through.
        code, out, err = self.run_ctl("wait", op(2), op(6), "--poll-only", "--poll-interval",
                                      "100ms", timeout=2 + 40)
        self.assertEqual(code, 0, err)
        self.assertEqual([o["name"] for o in json.loads(out)], [op(2), op(6)])


class ServeUsageTest(unittest.TestCase):
    def serve(self, *args):
        r = subprocess.run([LROCTL, "serve"] + list(args), capture_output=True, text=True,
                           timeout=30)
        return r.returncode, r.stdout, r.stderr

    def test_bad_flags(self):
        for args, needle in [
            (["--seed", "100001"], "0..100000"),
            (["--seed", "-1"], "0..100000"),
            (["--fault", "get=NOPE"], "METHOD[:NAME_SUFFIX]=CODE"),
            (["--fault", "fetch=UNAVAILABLE"], "METHOD[:NAME_SUFFIX]=CODE"),
            (["--fault", "get=UNAVAILABLEx0"], "METHOD[:NAME_SUFFIX]=CODE"),
            (["--fault", "get=UNAVAILABLE@retry=soon"], "METHOD[:NAME_SUFFIX]=CODE"),
            (["--fault", "get:=UNAVAILABLE"], "METHOD[:NAME_SUFFIX]=CODE"),
            (["--fault", "get=17"], "METHOD[:NAME_SUFFIX]=CODE"),
            (["--fault", "get=5@reason=lower"], "METHOD[:NAME_SUFFIX]=CODE"),
            (["--fault", "get=5@color=red"], "METHOD[:NAME_SUFFIX]=CODE"),
            (["--unimplemented", "wait,"], "list,get,wait"),
            (["--max-streams", "0"], "1..2147483647"),
            (["--complete-after", "later"], "duration"),
            (["--max-conn-age", "0"], "out of range"),
            (["--max-conn-age-grace", "1s"], "needs --max-conn-age"),
            (["--latency"], "needs a value"),
        ]:
            code, out, err = self.serve(*args)
            self.assertEqual(code, 2, (args, err))
            self.assertEqual(out, "")
            self.assertEqual(err.count("\n"), 1, (args, err))
            self.assertIn(needle, err, args)

    def test_help(self):
        r = subprocess.run([LROCTL, "serve", "--help"], capture_output=True, text=True)
        for flag in ["--complete-after", "--progress-every", "--fault", "--latency",
                     "--unimplemented", "--max-streams", "--max-conn-age"]:
            self.assertIn(flag, r.stdout)
        r = subprocess.run([LROCTL, "wait", "--help"], capture_output=True, text=True)
        self.assertIn("NAME...", r.stdout)
        r = subprocess.run([LROCTL, "--help"], capture_output=True, text=True)
        self.assertIn("--verbose", r.stdout)


class DemoTest(unittest.TestCase):
    def test_demo_walks_through(self):
        r = subprocess.run([LROCTL, "demo"], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        for needle in ["$ lroctl list", "$ lroctl get", "$ lroctl cancel", "$ lroctl wait",
                       "$ lroctl delete", "progress:", "finished after", "NOT_FOUND"]:
            self.assertIn(needle, r.stdout + r.stderr)


if __name__ == "__main__":
    if not LROCTL:
        sys.exit("LROCTL not set")
    unittest.main(verbosity=2)
