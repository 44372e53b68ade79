"""A throwaway one-node Ceph RADOS Gateway (S3) for the test suite, on 127.0.0.1.

One monitor, one OSD on memstore (RAM only) and one radosgw, every path (configuration, keyrings,
monitor and OSD data, sockets, pid files, logs) under one temp dir; pools of size 1. An S3 user is
created with radosgw-admin and its keys are the ones given here. Ready in about 12 s; `stop` ends
the three daemons by the pids in the run dir and removes the directory.

Needs the Debian packages radosgw, ceph-mon and ceph-osd (scripts/bootstrap test).
"""
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid

DAEMONS = ("radosgw", "ceph-osd", "ceph-mon")
START_TIMEOUT = 90


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child counts as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return False


class ThrowawayRGW:
    def __init__(self):
        missing = [name for name in (*DAEMONS, "ceph", "ceph-authtool", "monmaptool", "radosgw-admin")
                   if shutil.which(name) is None]
        if missing:
            raise RuntimeError(f"Ceph not installed ({', '.join(missing)} missing): "
                               "apt-get install radosgw ceph-mon ceph-osd")
        self.root = tempfile.mkdtemp(prefix="rie-ceph-")
        self.conf = os.path.join(self.root, "ceph.conf")
        self.run_dir = os.path.join(self.root, "run")
        self.mon_port = _free_port()
        self.port = _free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.access_key = "RIE" + secrets.token_hex(8).upper()
        self.secret_key = secrets.token_urlsafe(30)
        self.region = "default"

    # --- helpers ---------------------------------------------------------------------------

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def _run(self, *cmd, input=None):
        result = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[:3])} failed ({result.returncode}): "
                               f"{result.stderr.strip()[-2000:]}\n{self._log_tail()}")
        return result.stdout

    def _ceph(self, *args, input=None):
        return self._run("ceph", "-c", self.conf, "-n", "client.admin", "--connect-timeout", "30", *args,
                         input=input)

    def _log_tail(self):
        tails = []
        log_dir = self.path("log")
        for name in sorted(os.listdir(log_dir)) if os.path.isdir(log_dir) else []:
            with open(os.path.join(log_dir, name), errors="replace") as f:
                tails.append(f"--- {name}\n" + "".join(f.readlines()[-15:]))
        return "\n".join(tails)

    def _write_conf(self, fsid):
        root = self.root
        conf = f"""[global]
fsid = {fsid}
mon_host = v2:127.0.0.1:{self.mon_port}
ms_bind_msgr1 = false
ms_bind_ipv6 = false
public_addr = 127.0.0.1
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
run_dir = {root}/run
admin_socket = {root}/run/$cluster-$name.asok
pid_file = {root}/run/$name.pid
log_file = {root}/log/$name.log
log_to_stderr = false
err_to_stderr = false
keyring = {root}/$name.keyring
mon_data = {root}/mon/$id
osd_data = {root}/osd/$id
osd_objectstore = memstore
memstore_device_bytes = 2147483648
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
osd_crush_chooseleaf_type = 0
mon_max_pg_per_osd = 1000
auth_allow_insecure_global_id_reclaim = false
osd_max_object_name_len = 460
osd_max_object_namespace_len = 64

[mon]
keyring = {root}/mon/$id/keyring

[osd]
keyring = {root}/osd/$id/keyring

[client.rgw.a]
rgw_frontends = beast endpoint=127.0.0.1:{self.port} tcp_nodelay=1
rgw_data = {root}/rgw
rgw_thread_pool_size = 32
"""
        with open(self.conf, "w") as f:
            f.write(conf)

    # --- start and stop ---------------------------------------------------------------------

    def start(self):
        """Start the monitor, the OSD and the gateway; returns self once S3 answers with the user's keys."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self):
        for name in ("run", "log", "mon/a", "osd/0", "rgw"):
            os.makedirs(self.path(name), exist_ok=True)
        fsid = str(uuid.uuid4())
        self._write_conf(fsid)
        admin_keyring = self.path("client.admin.keyring")
        mon_keyring = self.path("mon.keyring")
        self._run("ceph-authtool", "--create-keyring", mon_keyring, "--gen-key", "-n", "mon.", "--cap", "mon", "allow *")
        self._run("ceph-authtool", "--create-keyring", admin_keyring, "--gen-key", "-n", "client.admin",
                  "--cap", "mon", "allow *", "--cap", "osd", "allow *", "--cap", "mgr", "allow *",
                  "--cap", "mds", "allow *")
        self._run("ceph-authtool", mon_keyring, "--import-keyring", admin_keyring)
        monmap = self.path("monmap")
        self._run("monmaptool", "--create", "--fsid", fsid, "--addv", "a", f"[v2:127.0.0.1:{self.mon_port}]", monmap)
        self._run("ceph-mon", "-c", self.conf, "--mkfs", "-i", "a", "--monmap", monmap, "--keyring", mon_keyring)
        self._run("ceph-mon", "-c", self.conf, "-i", "a")

        osd_uuid = str(uuid.uuid4())
        osd_secret = self._run("ceph-authtool", "--gen-print-key").strip()
        osd_id = self._ceph("osd", "new", osd_uuid, "-i", "-", input=json.dumps({"cephx_secret": osd_secret})).strip()
        if osd_id != "0":
            raise RuntimeError(f"unexpected OSD id {osd_id!r}")
        self._run("ceph-authtool", "--create-keyring", self.path("osd/0/keyring"), "--name", "osd.0",
                  "--add-key", osd_secret)
        self._run("ceph-osd", "-c", self.conf, "-i", "0", "--mkfs", "--osd-uuid", osd_uuid)
        self._run("ceph-osd", "-c", self.conf, "-i", "0")

        self._ceph("auth", "get-or-create", "client.rgw.a", "mon", "allow rw", "osd", "allow rwx",
                   "-o", self.path("client.rgw.a.keyring"))
        self._run("radosgw", "-c", self.conf, "-n", "client.rgw.a")
        self._wait_for_gateway()
        self._run("radosgw-admin", "-c", self.conf, "-n", "client.admin", "user", "create", "--uid", "rie-test",
                  "--display-name", "rie test", "--access-key", self.access_key, "--secret", self.secret_key)

    def _wait_for_gateway(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.endpoint_url + "/", timeout=2) as response:
                    if response.status == 200:
                        return
            except urllib.error.HTTPError:
                return  # an S3 error document: the gateway answers
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"radosgw did not answer on {self.endpoint_url} within {START_TIMEOUT} s\n{self._log_tail()}")

    def pids(self):
        found = {}
        run_dir = self.run_dir
        for name in sorted(os.listdir(run_dir)) if os.path.isdir(run_dir) else []:
            if name.endswith(".pid"):
                try:
                    with open(os.path.join(run_dir, name)) as f:
                        found[name[:-4]] = int(f.read().strip())
                except (OSError, ValueError):
                    continue
        return found

    def stop(self):
        """End the gateway, the OSD and the monitor (by their pid files), then remove everything."""
        try:
            pids = self.pids()
            order = sorted(pids, key=lambda name: 0 if "rgw" in name else 1 if name.startswith("osd") else 2)
            for name in order:
                try:
                    os.kill(pids[name], signal.SIGTERM)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 2  # RAM only: nothing to lose by a SIGKILL after
            while any(_alive(pid) for pid in pids.values()) and time.monotonic() < deadline:
                time.sleep(0.1)
            for pid in pids.values():
                if _alive(pid):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


if __name__ == "__main__":  # start one by hand: python -m tests.ceph_rgw
    started = time.monotonic()
    rgw = ThrowawayRGW().start()
    print(f"RGW on {rgw.endpoint_url} in {time.monotonic() - started:.1f} s; "
          f"AWS_ACCESS_KEY_ID={rgw.access_key} AWS_SECRET_ACCESS_KEY={rgw.secret_key}; Ctrl-C stops it")
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        rgw.stop()
