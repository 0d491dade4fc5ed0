#!/usr/bin/python3
"""Golden tests of `lroctl admin` (and `lroctl serve --admin`).

Each subcommand's JSON is parsed and compared whole; its effect is checked
through the Operations service with the other lroctl commands (get, wait),
the way an operator or a test script would use them together. Bad input is
checked for its one-line message and documented exit code.
"""
import json
import os
import subprocess
import unittest

import serve

LROCTL = os.environ.get("LROCTL")
PARENT = "projects/golden/locations/here/operations"
ERRINFO = "type.googleapis.com/google.rpc.ErrorInfo"
SV = "type.googleapis.com/google.protobuf.StringValue"
STRUCT = "type.googleapis.com/google.protobuf.Struct"


def steady_flags():
    """Operations must move only when the test says: when `serve` can make
    pending operations finish by themselves (--complete-after), turn that
    off."""
    out = subprocess.run([LROCTL, "serve", "--help"], capture_output=True, text=True,
                         timeout=30).stdout
    return ["--complete-after", "0"] if "--complete-after" in out else []


def n(s):
    return PARENT + "/" + s


def Server(*flags):
    return serve.Server("--seed", "0", *steady_flags(), *flags)


def run(target, *args):
    argv = [LROCTL]
    if target is not None:
        argv += ["--target", target, "--plaintext"]
    e = dict(os.environ)
    e.pop("LRO_TARGET", None)
    e.pop("LRO_TOKEN", None)
    r = subprocess.run(argv + list(args), capture_output=True, text=True, timeout=60, env=e)
    return r.returncode, r.stdout, r.stderr


class AdminGoldenTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server("--admin")

    @classmethod
    def tearDownClass(cls):
        assert cls.srv.stop() == 0

    def ctl(self, *args):
        return run(self.srv.target, *args)

    def ok(self, *args):
        code, out, err = self.ctl(*args)
        self.assertEqual(code, 0, err)
        self.assertEqual(err, "")
        return out

    def json_ok(self, *args):
        return json.loads(self.ok(*args))

    def one_line(self, want_code, args, needle, target=True):
        """The documented exit code and one error line; an RPC failure (exit
        10+code) may be followed by its status details, in the default json
        format one line of proto3 JSON with the same code."""
        code, out, err = run(self.srv.target if target else None, *args)
        self.assertEqual(code, want_code, err)
        self.assertEqual(out, "")
        lines = err.strip().split("\n")
        if want_code >= 10 and len(lines) == 2:
            self.assertEqual(json.loads(lines[1])["code"], want_code - 10, err)
            lines = lines[:1]
        self.assertEqual(len(lines), 1, err)
        self.assertTrue(lines[0].startswith("lroctl: "), err)
        self.assertIn(needle, lines[0])

    # ---- help ---------------------------------------------------------------
    def test_help(self):
        out = self.ok("admin", "--help")
        for sub in ("put NAME", "complete NAME", "fail NAME", "progress NAME", "fault ",
                    "clear-faults", "calls ", "clear-calls", "struct:KEY=VALUE"):
            self.assertIn(sub, out)
        self.assertIn("admin SUBCOMMAND", run(None, "--help")[1])
        self.assertIn("--admin", run(None, "serve", "--help")[1])

    # ---- put / progress / complete / fail ----------------------------------
    def test_put_pending_with_metadata(self):
        o = self.json_ok("admin", "put", n("p1"), "--metadata", "struct:stage=build,progress=5")
        self.assertEqual(o, {"name": n("p1"), "metadata": {
            "@type": STRUCT, "value": {"progress": 5, "stage": "build"}}})
        self.assertEqual(self.json_ok("get", n("p1")), o)

    def test_put_done_variants(self):
        self.assertEqual(self.json_ok("admin", "put", n("d1"), "--done"),
                         {"name": n("d1"), "done": True})
        self.assertEqual(self.json_ok("admin", "put", n("d2"), "--response", "int:7"), {
            "name": n("d2"), "done": True,
            "response": {"@type": "type.googleapis.com/google.protobuf.Int64Value",
                         "value": "7"}})
        o = self.json_ok("admin", "put", n("d3"), "--code", "NOT_FOUND", "--message", "gone",
                         "--reason", "DELETED")
        self.assertEqual(o, {"name": n("d3"), "done": True, "error": {
            "code": 5, "message": "gone",
            "details": [{"@type": ERRINFO, "reason": "DELETED", "domain": "lro-c.testing"}]}})
        # Putting again replaces it in place.
        self.assertEqual(self.json_ok("admin", "put", n("d3")), {"name": n("d3")})

    def test_value_kinds(self):
        cases = [
            # Empty is a plain message in proto3 JSON (no "value" wrapper).
            ("empty", {"@type": "type.googleapis.com/google.protobuf.Empty"}),
            ("string:hi there", {"@type": SV, "value": "hi there"}),
            ("double:2.5", {"@type": "type.googleapis.com/google.protobuf.DoubleValue",
                            "value": 2.5}),
            ("bool:true", {"@type": "type.googleapis.com/google.protobuf.BoolValue",
                           "value": True}),
            ("struct:a=1,b=true,c=x", {"@type": STRUCT, "value": {"a": 1, "b": True, "c": "x"}}),
            # StringValue "ok" by hand: field 1, length 2.
            ("raw:%s=0a026f6b" % SV, {"@type": SV, "value": "ok"}),
        ]
        for i, (spec, want) in enumerate(cases):
            o = self.json_ok("admin", "put", n("v%d" % i), "--response", spec)
            self.assertEqual(o["response"], want, spec)

    def test_progress(self):
        self.ok("admin", "put", n("pr1"))
        out = self.ok("--format", "text", "admin", "progress", n("pr1"), "42")
        self.assertIn("running, 42%", out)
        self.assertEqual(self.json_ok("get", n("pr1"))["metadata"],
                         {"@type": STRUCT, "value": {"progress": 42}})
        o = self.json_ok("admin", "progress", n("pr1"), "--metadata", "string:phase 2")
        self.assertEqual(o["metadata"], {"@type": SV, "value": "phase 2"})
        self.assertEqual(self.json_ok("admin", "progress", n("pr1"), "--clear"),
                         {"name": n("pr1")})

    def test_complete_then_wait(self):
        self.ok("admin", "put", n("c1"))
        o = self.json_ok("admin", "complete", n("c1"), "--response", "string:built",
                         "--delay", "200ms")
        self.assertEqual(o, {"name": n("c1")})  # not yet
        code, out, err = self.ctl("wait", n("c1"), "--timeout", "30s")
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(out), {"name": n("c1"), "done": True,
                                           "response": {"@type": SV, "value": "built"}})
        self.one_line(19, ["admin", "complete", n("c1")], "FAILED_PRECONDITION")

    def test_fail_then_wait(self):
        self.ok("admin", "put", n("f1"))
        o = self.json_ok("admin", "fail", n("f1"), "--code", "8", "--message", "quota",
                         "--reason", "QUOTA", "--domain", "example.com")
        self.assertEqual(o["error"], {"code": 8, "message": "quota", "details": [
            {"@type": ERRINFO, "reason": "QUOTA", "domain": "example.com"}]})
        code, out, err = self.ctl("wait", n("f1"), "--timeout", "30s")
        self.assertEqual(code, 3, err)
        self.assertEqual(json.loads(out)["error"]["code"], 8)

    # ---- faults --------------------------------------------------------------
    def test_fault_hits_then_clears(self):
        self.ok("admin", "put", n("x1"))
        self.assertEqual(self.ok("admin", "fault", "--method", "get", "--name", n("x1"),
                                 "--code", "PERMISSION_DENIED", "--message", "nope",
                                 "--times", "2"), "{}\n")
        for _ in range(2):
            self.one_line(17, ["get", n("x1")], "PERMISSION_DENIED: nope")
        self.ok("get", n("x1"))
        self.ok("admin", "fault", "--method", "get,wait", "--code", "7", "--times", "forever")
        self.one_line(17, ["get", n("x1")], "PERMISSION_DENIED")
        self.assertEqual(self.ok("--format", "text", "admin", "clear-faults"), "ok\n")
        self.ok("get", n("x1"))

    def test_fault_name_suffix(self):
        self.ok("admin", "put", n("s1-build"))
        self.ok("admin", "put", n("s1-test"))
        code, out, err = self.ctl("admin", "fault", "--name-suffix", "-build", "--code",
                                  "ABORTED", "--times", "forever")
        if code == 22:  # a server build without suffix matching refuses it
            self.assertIn("name_suffix", err)
            return
        self.assertEqual(code, 0, err)
        try:
            self.one_line(20, ["get", n("s1-build")], "ABORTED")
            self.ok("get", n("s1-test"))
        finally:
            self.ok("admin", "clear-faults")

    def test_fault_server_side_validation(self):
        self.one_line(13, ["admin", "fault", "--kind", "latency"], "fault.latency is required")
        self.one_line(13, ["admin", "fault", "--kind", "big"], "fault.big_size must be")
        self.one_line(13, ["admin", "fault", "--kind", "disconnect", "--latency", "1s"],
                      "fault.latency only applies")
        self.one_line(13, ["admin", "fault", "--code", "3", "--latency", "2h"],
                      "fault.latency only applies")
        self.one_line(13, ["admin", "fault", "--latency", "2h"], "fault.latency must be")

    # ---- calls ---------------------------------------------------------------
    def test_calls(self):
        self.ok("admin", "put", n("k1"))
        self.ok("--header", "x-golden=yes", "get", n("k1"))
        o = self.json_ok("admin", "calls", "--name", n("k1"))
        self.assertEqual(o["total"], "1")
        self.assertEqual(len(o["calls"]), 1)
        c = o["calls"][0]
        self.assertEqual(c["method"], "GET_OPERATION")
        self.assertEqual(c["name"], n("k1"))
        self.assertNotIn("code", c)  # OK is the proto3 default
        self.assertIn({"key": "x-golden", "value": "yes"}, c["headers"])
        self.assertIn({"key": "x-goog-request-params", "value": "name=" + n("k1")},
                      c["headers"])
        self.assertTrue(c["deadline"].endswith("s"))
        text = self.ok("--format", "text", "admin", "calls", "--name", n("k1"))
        lines = text.split("\n")
        self.assertEqual(lines[0].split(), ["METHOD", "NAME", "CODE", "DEADLINE"])
        self.assertEqual(lines[1].split()[:3], ["get", n("k1"), "OK"])
        self.assertIn("    x-golden: yes", lines)
        self.assertEqual(lines[-2], "total 1")
        self.assertEqual(self.json_ok("admin", "calls", "--method", "list"), {})

    def test_clear_calls_keeps_total(self):
        self.ok("admin", "put", n("k2"))
        self.ok("get", n("k2"))
        total = self.json_ok("admin", "calls")["total"]
        self.assertEqual(self.ok("admin", "clear-calls"), "{}\n")
        self.assertEqual(self.json_ok("admin", "calls"), {"total": total})
        self.ok("get", n("k2"))
        o = self.json_ok("admin", "calls", "--limit", "1")
        self.assertEqual([c["name"] for c in o["calls"]], [n("k2")])

    # ---- errors ----------------------------------------------------------------
    def test_admin_error_details(self):
        # The server's google.rpc.Status trailer follows the error line.
        code, out, err = self.ctl("admin", "complete", n("nowhere"))
        self.assertEqual(code, 15, err)
        lines = err.strip().split("\n")
        self.assertEqual(lines[0], "lroctl: admin complete failed: NOT_FOUND: operation not found")
        st = json.loads(lines[1])
        self.assertEqual((st["code"], st["message"]), (5, "operation not found"))
        # Text format: one indented line per detail (none, or the server's
        # ErrorInfo where it sends one).
        code, out, err = self.ctl("--format", "text", "admin", "complete", n("nowhere"))
        self.assertEqual(code, 15, err)
        self.assertTrue(all(x.startswith("  ") for x in err.strip().split("\n")[1:]), err)

    def test_server_errors(self):
        self.one_line(15, ["admin", "complete", n("missing")], "NOT_FOUND")
        self.one_line(15, ["admin", "progress", n("missing"), "5"], "NOT_FOUND")
        self.one_line(13, ["admin", "put", "bad\tname"], "operation.name")

    def test_usage_errors(self):
        cases = [
            (["admin"], "missing subcommand"),
            (["admin", "bogus"], "unknown subcommand 'bogus'"),
            (["admin", "put"], "missing NAME"),
            (["admin", "put", "a", "b"], "unexpected argument 'b'"),
            (["admin", "put", "a", "--delay", "1s"], "unknown flag '--delay'"),
            (["admin", "put", "a", "--response", "nope:1"], "is not a VALUE"),
            (["admin", "put", "a", "--response", "int:x"], "is not a VALUE"),
            (["admin", "put", "a", "--response", "raw:u=abc"], "is not a VALUE"),
            (["admin", "put", "a", "--response", "struct:=1"], "is not KEY=VALUE"),
            (["admin", "put", "a", "--response", "string:x", "--code", "3"], "exclude each other"),
            (["admin", "put", "a", "--message", "m"], "add --code"),
            (["admin", "put", "a", "--code", "3", "--domain", "d"], "--domain needs --reason"),
            (["admin", "fail", "a"], "--code is required"),
            (["admin", "fail", "a", "--code", "99"], "not a gRPC error code"),
            (["admin", "fail", "a", "--code", "OK"], "not a gRPC error code"),
            (["admin", "complete", "a", "--delay", "soon"], "not a duration"),
            (["admin", "progress", "a"], "exactly one of"),
            (["admin", "progress", "a", "150"], "0 to 100"),
            (["admin", "progress", "a", "5", "--clear"], "exactly one of"),
            (["admin", "fault"], "--code is required for kind status"),
            (["admin", "fault", "--kind", "weird"], "--kind 'weird'"),
            (["admin", "fault", "--code", "3", "--times", "0"], "--times '0'"),
            (["admin", "fault", "--code", "3", "--method", "frob"], "--method: 'frob'"),
            (["admin", "fault", "--kind", "garbage", "--garbage-hex", "zz"], "not hex"),
            (["admin", "fault", "--kind", "disconnect", "--message", "m"], "need --code"),
            (["admin", "calls", "--limit", "0"], "--limit '0'"),
            (["admin", "calls", "--code", "3"], "unknown flag '--code'"),
            (["admin", "calls", "--token-file", "/nonexistent"], "sends no bearer token"),
        ]
        for args, needle in cases:
            with self.subTest(args=args):
                self.one_line(2, args, needle)
        self.one_line(2, ["admin", "calls"], "no server given", target=False)


class AdminOffTest(unittest.TestCase):
    def test_without_admin_flag(self):
        srv = Server()
        try:
            code, out, err = run(srv.target, "admin", "calls")
            self.assertEqual(code, 22, err)
            self.assertIn("UNIMPLEMENTED", err)
            self.assertIn("--admin", err)
        finally:
            self.assertEqual(srv.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
