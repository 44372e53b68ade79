"""A throwaway PostgreSQL primary with a real streaming replica (hot standby), for tests/test_replica.py.

The primary is tests/pg_cluster.py's throwaway cluster; the replica is `pg_basebackup -R -X stream`
of it into a second data directory, started on another port: it streams the primary's WAL and
answers read-only queries. As root both run as the `postgres` user (initdb refuses root).
"""
import os
import time

import psycopg

from tests.pg_cluster import ThrowawayCluster, _free_port


class StreamingPair(ThrowawayCluster):
    """start() -> (primary URL, replica URL); stop() stops both and removes their files."""

    def __init__(self):
        super().__init__()
        self.replica_data = os.path.join(self.root, "replica")
        self.replica_port = _free_port()
        self.replica_started = False

    def start(self):
        primary = super().start()
        self._run("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                  "-D", self.replica_data, "-R", "-X", "stream", "--checkpoint=fast")
        options = (f"-p {self.replica_port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c hot_standby=on -c max_connections=100")
        self._run("pg_ctl", "-D", self.replica_data, "-o", options, "-l", os.path.join(self.root, "replica.log"),
                  "-w", "start")
        self.replica_started = True
        replica = f"postgresql://postgres@127.0.0.1:{self.replica_port}/postgres"
        self.wait_streaming(primary)
        return primary, replica

    @staticmethod
    def wait_streaming(primary_url, timeout=30):
        """Until the primary's pg_stat_replication shows the replica streaming."""
        until = time.monotonic() + timeout
        while time.monotonic() < until:
            with psycopg.connect(primary_url, autocommit=True) as conn:
                if conn.execute("SELECT state FROM pg_stat_replication").fetchall() == [("streaming",)]:
                    return
            time.sleep(0.1)
        raise RuntimeError("the replica is not streaming")

    @staticmethod
    def wait_replayed(primary_url, replica_url, timeout=30):
        """Until the replica has replayed everything the primary has written so far (its WAL insert
        position: with synchronous_commit=off a commit may not be written out yet)."""
        with psycopg.connect(primary_url, autocommit=True) as conn:
            target = conn.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0]
        until = time.monotonic() + timeout
        with psycopg.connect(replica_url, autocommit=True) as conn:
            while time.monotonic() < until:
                if conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)).fetchone()[0]:
                    return target
                time.sleep(0.05)
        raise RuntimeError(f"the replica did not replay {target} in {timeout} s")

    def stop(self):
        try:
            if self.replica_started:
                self._run("pg_ctl", "-D", self.replica_data, "-m", "immediate", "-w", "stop")
        finally:
            super().stop()
