"""lro.credentials against `lroctl serve --require-token` on loopback."""
import asyncio
import http.server
import json
import os
import socketserver
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

import lro
import lro.credentials as creds

LROCTL = os.environ["LROCTL"]
NAME = "projects/demo/locations/global/operations/op-00000"


def serve(tokens):
    args = [LROCTL, "serve", "--listen", "127.0.0.1:0"]
    for t in tokens:
        args += ["--require-token", t]
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return p, p.stdout.readline().strip()


class ProviderTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv, cls.target = serve(["py-token-1", "ga-token"])

    @classmethod
    def tearDownClass(cls):
        cls.srv.terminate()
        cls.srv.wait()

    def run_calls(self, c, n):
        async def main():
            async with lro.Client(self.target, plaintext=True, credentials=c) as cl:
                return await asyncio.gather(*[cl.get(NAME) for _ in range(n)],
                                            return_exceptions=True)
        return asyncio.run(main())

    def test_provider_once_off_loop(self):
        calls, threads = [], []

        def provide(audience):
            calls.append(audience)
            threads.append(threading.current_thread().name)
            time.sleep(0.2)  # blocking is fine: a worker thread
            return "py-token-1", time.time() + 3600

        c = creds.token_provider(provide).allow_plaintext()
        self.assertEqual(c.description, "token provider")
        res = self.run_calls(c, 50)
        for r in res:
            self.assertNotIsInstance(r, Exception, r)
        self.assertEqual(len(calls), 1)
        self.assertTrue(calls[0].endswith("/google.longrunning.Operations"), calls[0])
        self.assertTrue(threads[0].startswith("lro-token"), threads[0])
        # Frozen once used.
        with self.assertRaises(creds.CredentialsError):
            c.set_api_key("k")

    def test_sync_client(self):
        c = creds.token_provider(lambda aud: ("py-token-1", None)).allow_plaintext()
        with lro.SyncClient(self.target, plaintext=True, credentials=c) as cl:
            self.assertEqual(cl.get(NAME).name, NAME)
        with lro.SyncClient(self.target, plaintext=True,
                            credentials=creds.access_token("bad").allow_plaintext()) as cl:
            with self.assertRaises(lro.LroError) as e:
                cl.get(NAME)
            self.assertEqual(e.exception.code, 16)

    def test_provider_failure(self):
        def provide(audience):
            raise PermissionError("identity provider said no")

        res = self.run_calls(creds.token_provider(provide).allow_plaintext(), 3)
        for r in res:
            self.assertIsInstance(r, lro.LroError)
            self.assertEqual(r.code, 16, r)
            self.assertIn("identity provider said no", r.message)

    def test_wrong_token_rejected_by_server(self):
        res = self.run_calls(creds.access_token("nope").allow_plaintext(), 1)
        self.assertIsInstance(res[0], lro.LroError)
        self.assertEqual(res[0].code, 16)
        self.assertNotIn("nope", str(res[0]))

    def test_errors(self):
        with self.assertRaises(creds.CredentialsError) as e:
            creds.from_file("/nonexistent/sa.json")
        self.assertIn("/nonexistent/sa.json", str(e.exception))
        with self.assertRaises(creds.CredentialsError):
            creds.access_token("two words")
        with self.assertRaises(TypeError):
            creds.token_provider(None)

    def test_duck_typed_google_auth(self):
        class Fake:
            valid = False
            token = None
            expiry = None
            quota_project_id = None
            refreshed = 0

            def refresh(self, request):
                self.refreshed += 1
                self.token = "ga-token"
                self.valid = True

        f = Fake()
        res = self.run_calls(creds.from_google_auth(f, request=object()).allow_plaintext(), 5)
        for r in res:
            self.assertNotIsInstance(r, Exception, r)
        self.assertEqual(f.refreshed, 1)

    def test_real_google_auth_service_account(self):
        try:
            from google.oauth2 import service_account
            from google.auth.transport.requests import Request
        except ImportError as e:
            self.skipTest("python3-google-auth / python3-requests not installed: %s" % e)
        d = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
        subprocess.run(["openssl", "genrsa", "-out", os.path.join(d, "k.pem"), "2048"],
                       check=True, capture_output=True)
        seen = {}

        class Token(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                form = urllib.parse.parse_qs(body)
                seen["grant"] = form.get("grant_type", [""])[0]
                data = json.dumps({"access_token": "ga-token", "expires_in": 3600,
                                   "token_type": "Bearer"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        httpd = socketserver.TCPServer(("127.0.0.1", 0), Token)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        try:
            with open(os.path.join(d, "k.pem")) as kf:
                key_pem = kf.read()
            info = {"type": "service_account", "project_id": "p", "private_key_id": "k1",
                    "private_key": key_pem,
                    "client_email": "robot@p.iam.gserviceaccount.com", "client_id": "1",
                    "token_uri": "http://127.0.0.1:%d/token" % httpd.server_address[1]}
            sa = service_account.Credentials.from_service_account_info(
                info, scopes=["https://www.googleapis.com/auth/cloud-platform"])
            c = creds.from_google_auth(sa, request=Request()).allow_plaintext()
            res = self.run_calls(c, 5)
            for r in res:
                self.assertNotIsInstance(r, Exception, r)
            self.assertEqual(seen.get("grant"), "urn:ietf:params:oauth:grant-type:jwt-bearer")
        finally:
            httpd.shutdown()
            httpd.server_close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
