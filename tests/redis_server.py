"""A throwaway Redis for the tests that need a job broker shared by processes (real workers, two
app nodes): Debian's redis-server on a free loopback port, nothing saved to disk, stopped and its
directory removed at the end of the run."""
import shutil
import socket
import subprocess
import tempfile
import time


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThrowawayRedis:
    def __init__(self):
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server not installed: apt-get install redis-server")
        self.binary = binary
        self.root = tempfile.mkdtemp(prefix="rie-redis-")
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self, timeout=20):
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.root, "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--logfile", f"{self.root}/redis.log"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        until = time.monotonic() + timeout
        while time.monotonic() < until:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited: {open(f'{self.root}/redis.log').read()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return self.url
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port} within {timeout} s")

    def stop(self):
        try:
            if self.process is not None and self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(5)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
