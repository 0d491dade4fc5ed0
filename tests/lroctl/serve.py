"""`lroctl serve` as a child process, shared by the lroctl tests."""
import os
import subprocess

LROCTL = os.environ.get("LROCTL")


class Server:
    """Runs `lroctl serve ARGS...`; .target is the address it prints first."""

    def __init__(self, *args):
        self.p = subprocess.Popen([LROCTL, "serve", *args], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        self.target = self.p.stdout.readline().strip()
        assert self.target.startswith("127.0.0.1:"), self.target

    def stop(self):
        self.p.terminate()
        self.p.wait(timeout=20)
        self.p.stdout.close()
        self.p.stderr.close()
        return self.p.returncode
