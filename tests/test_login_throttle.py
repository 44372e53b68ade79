"""Login throttling: per (account, client address) with an exponential lock-out, and a per-account
ceiling that slows a guess spread over many addresses without locking the account's owner out.

No address alone is ever locked (a township office behind one NAT shares one), and the client
address is the socket's unless PROXY_FIX_HOPS proxies are trusted to name it in X-Forwarded-For.
"""
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import auth, create_app
from app.extensions import db
from app.models import LoginThrottle
from app.models.types import utcnow as real_utcnow

ATTACKER = "203.0.113.66"
OFFICE = "198.51.100.20"


@pytest.fixture
def clock(monkeypatch):
    """The throttle's clock, moved forward by tests: clock.advance(seconds)."""

    class Clock:
        def __init__(self):
            self.offset = timedelta()

        def __call__(self):
            return real_utcnow() + self.offset

        def advance(self, seconds):
            self.offset += timedelta(seconds=seconds)

    fake = Clock()
    monkeypatch.setattr(auth, "utcnow", fake)
    return fake


def login(client, user_or_name, password=None, addr="127.0.0.1", **headers):
    username = getattr(user_or_name, "username", user_or_name)
    password = password if password is not None else user_or_name.password
    return client.post("/api/v1/auth/token", json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": addr}, headers=headers)


def fail(client, user, addr="127.0.0.1", times=1, **headers):
    return [login(client, user, "wrong-password", addr, **headers).status_code for _ in range(times)]


def retry_after(response):
    assert response.status_code == 429 and response.json["error"]["code"] == "rate_limited", response.json
    seconds = int(response.headers["Retry-After"])
    assert response.json["error"]["details"]["retry_after"] == seconds
    return seconds


# --- one account from one address -----------------------------------------------------------

def test_the_right_password_from_another_address_logs_in_while_the_attackers_pair_is_locked(
        client, database, inspector):
    limit = database.config["LOGIN_MAX_FAILURES"]
    assert fail(client, inspector, ATTACKER, times=limit) == [401] * limit
    assert retry_after(login(client, inspector, addr=ATTACKER)) > 0  # even the right password waits there
    assert login(client, inspector, addr=OFFICE).status_code == 201


def test_a_pair_lock_doubles_with_each_further_failure(client, database, inspector, clock):
    cfg = database.config
    base, limit = cfg["LOGIN_LOCKOUT_SECONDS"], cfg["LOGIN_MAX_FAILURES"]
    fail(client, inspector, ATTACKER, times=limit)
    assert base - 2 <= retry_after(login(client, inspector, "guess", ATTACKER)) <= base + 1
    clock.advance(base + 1)
    assert fail(client, inspector, ATTACKER) == [401]  # one more try once the lock is over...
    assert 2 * base - 2 <= retry_after(login(client, inspector, "guess", ATTACKER)) <= 2 * base + 1  # ...then twice as long
    clock.advance(2 * base + 1)
    fail(client, inspector, ATTACKER)
    assert 4 * base - 2 <= retry_after(login(client, inspector, "guess", ATTACKER)) <= 4 * base + 1


def test_the_lock_is_capped(client, database, inspector, clock, monkeypatch):
    monkeypatch.setitem(database.config, "LOGIN_LOCKOUT_MAX_SECONDS", 700)
    cfg = database.config
    fail(client, inspector, ATTACKER, times=cfg["LOGIN_MAX_FAILURES"])
    for _ in range(4):
        clock.advance(cfg["LOGIN_LOCKOUT_MAX_SECONDS"] + 1)
        fail(client, inspector, ATTACKER)
    assert retry_after(login(client, inspector, "guess", ATTACKER)) <= 701


def test_a_pair_is_forgotten_after_a_quiet_window(client, database, inspector, clock):
    cfg = database.config
    fail(client, inspector, ATTACKER, times=cfg["LOGIN_MAX_FAILURES"])
    clock.advance(cfg["LOGIN_LOCKOUT_SECONDS"] + cfg["LOGIN_WINDOW_SECONDS"] + 1)
    limit = cfg["LOGIN_MAX_FAILURES"]
    assert fail(client, inspector, ATTACKER, times=limit) == [401] * limit  # a fresh allowance
    assert login(client, inspector, "guess", ATTACKER).status_code == 429


def test_a_success_clears_the_pair(client, database, inspector):
    limit = database.config["LOGIN_MAX_FAILURES"]
    fail(client, inspector, OFFICE, times=limit - 1)
    assert login(client, inspector, addr=OFFICE).status_code == 201
    assert fail(client, inspector, OFFICE, times=limit - 1) == [401] * (limit - 1)


# --- one address, many accounts -----------------------------------------------------------

def test_many_users_behind_one_address_are_not_locked_by_one_users_failures(client, database, make_user):
    careless = make_user("inspector")
    others = [make_user("inspector") for _ in range(5)] + [make_user("reviewer")]
    codes = fail(client, careless, OFFICE, times=40)
    assert codes.count(429) >= 30  # the careless pair is locked...
    for user in others:  # ...nobody else behind the office's address is, however many mistype
        assert fail(client, user, OFFICE, times=3) == [401] * 3
    for user in others:
        assert login(client, user, addr=OFFICE).status_code == 201


def test_guessing_many_names_from_one_address_locks_no_one_else(client, database, inspector):
    for n in range(4 * database.config["LOGIN_MAX_FAILURES"] + 5):
        login(client, f"ghost{n}", "x", ATTACKER)
    assert login(client, inspector, addr=ATTACKER).status_code == 201


# --- one account, many addresses ------------------------------------------------------------

def test_a_distributed_guess_is_slowed_and_the_owner_gets_in_when_the_slot_is_free(
        client, database, inspector, clock, monkeypatch):
    monkeypatch.setitem(database.config, "LOGIN_ACCOUNT_MAX_FAILURES", 12)
    ceiling, interval = 12, database.config["LOGIN_ACCOUNT_INTERVAL_SECONDS"]
    addresses = [f"192.0.2.{n}" for n in range(1, ceiling + 1)]
    assert [fail(client, inspector, addr)[0] for addr in addresses] == [401] * ceiling
    # above the ceiling: one attempt per interval for the account, from any address
    slowed = login(client, inspector, "guess", "192.0.2.200")
    assert 1 <= retry_after(slowed) <= interval
    assert login(client, inspector, addr=OFFICE).status_code == 429  # the owner too, for a moment
    clock.advance(interval)
    assert fail(client, inspector, "192.0.2.201") == [401]  # a free slot: one guess...
    assert login(client, inspector, addr=OFFICE).status_code == 429  # ...then the next waits again
    clock.advance(interval)
    assert login(client, inspector, addr=OFFICE).status_code == 201  # the right password, once the slot is free
    clock.advance(interval)
    assert fail(client, inspector, "192.0.2.202") == [401]  # still slowed after the owner's success


def test_the_ceiling_slows_only_that_account(client, database, make_user, clock, monkeypatch):
    monkeypatch.setitem(database.config, "LOGIN_ACCOUNT_MAX_FAILURES", 6)
    target, bystander = make_user("inspector"), make_user("inspector")
    for n in range(1, 8):
        fail(client, target, f"192.0.2.{n}")
    assert login(client, target, addr=OFFICE).status_code == 429
    assert login(client, bystander, addr="192.0.2.1").status_code == 201


def test_the_account_ceiling_is_forgotten_after_a_quiet_window(client, database, inspector, clock, monkeypatch):
    monkeypatch.setitem(database.config, "LOGIN_ACCOUNT_MAX_FAILURES", 6)
    for n in range(1, 8):
        fail(client, inspector, f"192.0.2.{n}")
    clock.advance(database.config["LOGIN_ACCOUNT_INTERVAL_SECONDS"] + database.config["LOGIN_WINDOW_SECONDS"] + 1)
    assert [fail(client, inspector, f"192.0.2.{n}")[0] for n in range(10, 15)] == [401] * 5


def _at_once(app, attempts):
    """Send the (username, password, address) attempts at the same moment; their status codes."""
    barrier = threading.Barrier(len(attempts))
    codes = [None] * len(attempts)

    def send(n, username, password, addr):
        with app.test_client() as own:
            barrier.wait()
            codes[n] = login(own, username, password, addr).status_code

    threads = [threading.Thread(target=send, args=(n, *a)) for n, a in enumerate(attempts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return codes


def test_concurrent_failures_are_all_counted(client, database, inspector):
    codes = _at_once(database, [(inspector.username, "wrong", f"192.0.2.{n}") for n in range(1, 7)])
    assert codes == [401] * 6
    with database.app_context():
        row = db.session.get(LoginThrottle, f"account:{inspector.username}")
        assert row.failures == 6


def test_a_free_slot_goes_to_one_of_many_concurrent_attempts(client, database, inspector, monkeypatch):
    monkeypatch.setitem(database.config, "LOGIN_ACCOUNT_MAX_FAILURES", 3)
    for n in range(1, 4):
        fail(client, inspector, f"192.0.2.{n}")
    with database.app_context():  # the slot the third failure took is free again
        row = db.session.get(LoginThrottle, f"account:{inspector.username}")
        row.locked_until = real_utcnow() - timedelta(seconds=1)
        db.session.commit()
    codes = _at_once(database, [(inspector.username, "wrong", f"192.0.2.{n}") for n in range(10, 16)])
    assert sorted(codes) == [401] + [429] * 5


# --- the client address ---------------------------------------------------------------------

def test_a_forged_forwarded_for_does_not_change_the_address_without_proxy_hops(client, database, inspector):
    assert database.config["PROXY_FIX_HOPS"] == 0
    limit = database.config["LOGIN_MAX_FAILURES"]
    codes = [login(client, inspector, "wrong", ATTACKER, **{"X-Forwarded-For": f"10.9.9.{n}"}).status_code
             for n in range(limit)]
    assert codes == [401] * limit
    r = login(client, inspector, addr=ATTACKER, **{"X-Forwarded-For": "10.9.9.250"})
    assert r.status_code == 429  # the same socket address: the same locked pair


def test_behind_one_proxy_the_last_forwarded_address_is_the_client(tmp_path, database, inspector):
    app = create_app("testing", DATABASE_URL=database.config["SQLALCHEMY_DATABASE_URI"], PHOTO_ROOT=str(tmp_path),
                     PROXY_FIX_HOPS=1)
    proxied = app.test_client()
    limit = app.config["LOGIN_MAX_FAILURES"]
    for n in range(limit):  # the client forges a first entry; the proxy appends the real address
        assert fail(proxied, inspector, "10.0.0.1", **{"X-Forwarded-For": f"172.16.0.{n}, {ATTACKER}"}) == [401]
    locked = login(proxied, inspector, addr="10.0.0.1", **{"X-Forwarded-For": f"172.16.9.9, {ATTACKER}"})
    assert locked.status_code == 429
    # another client behind the same proxy (same socket address) is not that pair
    assert login(proxied, inspector, addr="10.0.0.1", **{"X-Forwarded-For": OFFICE}).status_code == 201


def test_ipv6_clients_are_keyed_by_their_64_prefix(client, database, inspector):
    limit = database.config["LOGIN_MAX_FAILURES"]
    for n in range(limit):  # one host rotating its interface identifier
        fail(client, inspector, f"2001:db8:1:2::{n + 1:x}")
    assert login(client, inspector, addr="2001:db8:1:2:aaaa::1").status_code == 429
    assert login(client, inspector, addr="2001:db8:1:3::1").status_code == 201


# --- the table stays small ------------------------------------------------------------------

def test_forgotten_rows_are_pruned(client, database, inspector, clock):
    for n in range(30):
        login(client, f"ghost{n}", "x", f"192.0.2.{n}")
    with database.app_context():
        assert db.session.scalar(select(func.count()).select_from(LoginThrottle)) >= 30
    clock.advance(database.config["LOGIN_LOCKOUT_SECONDS"] + database.config["LOGIN_WINDOW_SECONDS"] + 1)
    fail(client, inspector, OFFICE)
    with database.app_context():
        assert db.session.scalar(select(func.count()).select_from(LoginThrottle)) <= 2
