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

LROCTL = os.environ.get("LROCTL")
PARENT = "projects/demo/locations/global/operations"


def op(i):
    return "%s/op-%05d" % (PARENT, i)


class Server:
    def __init__(self, seed=20):
        self.p = subprocess.Popen([LROCTL, "serve", "--seed", str(seed)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.target = self.p.stdout.readline().strip()
        assert self.target.startswith("127.0.0.1:"), self.target

    def stop(self):
        self.p.terminate()
        self.p.wait(timeout=20)
        self.p.stdout.close()
        self.p.stderr.close()
        return self.p.returncode


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
        self.assertEqual(err.count("\n"), 1)
        self.assertIn("NOT_FOUND", err)

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
        self.assertEqual(err.count("\n"), 1)

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
        import pty
        master, slave = pty.openpty()
        p = subprocess.Popen([LROCTL, "--target", self.srv.target, "--plaintext", "wait",
                              op(14), "--timeout", "3s", "--poll-only", "--poll-interval",
                              "100ms"], stdout=subprocess.PIPE, stderr=slave, text=True)
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
        tty = b"".join(chunks).decode()
        self.assertEqual(p.returncode, 5)
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
        self.assertEqual(r.stderr.count("\n"), 1)
        self.assertIn("UNAVAILABLE", r.stderr)

    def test_tls_default_refuses_plaintext_server(self):
        # Without --plaintext lroctl speaks TLS: against a plaintext server the
        # handshake fails and the RPC is UNAVAILABLE (never a silent downgrade).
        r = subprocess.run([LROCTL, "--target", self.srv.target, "--call-timeout", "3s",
                            "get", op(0)], capture_output=True, text=True, timeout=60)
        self.assertIn(r.returncode, (24, 14), r.stderr)


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
