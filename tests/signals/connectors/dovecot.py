"""A real, throw-away IMAP server for the IMAP poller tests: Debian's Dovecot.

Each test process (each pytest-xdist worker) starts its own ``dovecot -F -c <conf>``
on 127.0.0.1 and a free port, with everything (config, sockets, state, logs, mail) in a
private temporary directory:

- no SSL (``ssl = no``), ``auth_mechanisms = plain login``, ``disable_plaintext_auth = no``;
- one user with a plain-text password in a ``passwd-file`` (passdb and userdb);
- Maildir mail under the temporary directory.

Running as root (CI, the dev machines): Dovecot refuses to run its login processes as
root ("This process must not be run as root") and refuses mail access as UID 0, so the
config names Debian's ``dovenull`` (login) and ``dovecot`` (internal services and the
mail user) accounts, which the dovecot-core package creates, and the temporary
directory is world-traversable and owned by ``dovecot``. Login chroots are switched off
so that the same config also works without root, where Dovecot runs every process as
the invoking user (then that user is named everywhere instead).

Install with ``make services`` (apt-get install dovecot-imapd).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = "Dovecot is not installed: run `make services` (it installs Debian's dovecot-imapd)."
START_TIMEOUT = 15.0


def dovecot_binary() -> str | None:
    """The dovecot executable, also when /usr/sbin is not on PATH (non-root shells)."""
    found = shutil.which("dovecot")
    if found:
        return found
    return "/usr/sbin/dovecot" if os.access("/usr/sbin/dovecot", os.X_OK) else None


def _die_with_parent() -> None:
    """Runs in the child before exec: Linux sends it SIGTERM when the test process dies.

    A killed pytest worker then leaves no Dovecot behind; elsewhere this is a no-op.
    """
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class DovecotServer:
    """A running Dovecot with one IMAP user."""

    host: str
    port: int
    username: str
    password: str
    root: Path
    process: subprocess.Popen[bytes]

    def log(self) -> str:
        """Dovecot's log so far (for failure messages)."""
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Stop the master (it stops its children) and remove the directory."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        shutil.rmtree(self.root, ignore_errors=True)


def _accounts() -> tuple[str, str, str, int, int]:
    """(login user, internal user, internal group, mail uid, mail gid) for this process."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        group = _group_name(me.pw_gid)
        return me.pw_name, me.pw_name, group, me.pw_uid, me.pw_gid
    try:
        internal = pwd.getpwnam("dovecot")
        pwd.getpwnam("dovenull")
    except KeyError:
        raise RuntimeError("the dovecot and dovenull users are missing: reinstall dovecot-core")
    return "dovenull", "dovecot", _group_name(internal.pw_gid), internal.pw_uid, internal.pw_gid


def _group_name(gid: int) -> str:
    import grp

    return grp.getgrgid(gid).gr_name


def _config(root: Path, port: int, login_user: str, internal_user: str, internal_group: str) -> str:
    return f"""# Written by tests/signals/connectors/dovecot.py: a private test server.
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
# Tests try a wrong password on purpose; the default 2 s penalty would only slow them.
auth_failure_delay = 0
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
mail_location = maildir:{root}/mail/%u
mail_uid = {internal_user}
mail_gid = {internal_group}
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/passwd
  default_fields = home={root}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
  # No growing delay for an address after failed logins (the tests fail one on purpose).
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


def _wait_for_greeting(server: DovecotServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"dovecot exited with {server.process.returncode}:\n{server.log()}")
        try:
            with socket.create_connection((server.host, server.port), timeout=1) as connection:
                if connection.recv(64).startswith(b"* OK"):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(
        f"dovecot did not answer on port {server.port} within {START_TIMEOUT} s:\n{server.log()}"
    )


def start_dovecot(*, username: str = "tester", password: str = "s3cret pass") -> DovecotServer:
    """Start a private Dovecot and wait until it greets; the caller must ``stop()`` it.

    Raises RuntimeError with :data:`INSTALL_HINT` when Dovecot is not installed.
    """
    binary = dovecot_binary()
    if binary is None:
        raise RuntimeError(INSTALL_HINT)
    login_user, internal_user, internal_group, mail_uid, mail_gid = _accounts()
    root = Path(tempfile.mkdtemp(prefix="pathcast-dovecot-"))
    # Dovecot's unprivileged processes must reach the sockets, the passwd file and the mail.
    root.chmod(0o755)
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir()
    (root / "passwd").write_text(f"{username}:{{PLAIN}}{password}::::::\n", encoding="utf-8")
    if os.geteuid() == 0:
        os.chown(root / "mail", mail_uid, mail_gid)
    last_error: Exception | None = None
    # A free port can be taken between probing and binding (xdist workers): retry.
    for _ in range(3):
        port = _free_port()
        conf = root / "dovecot.conf"
        conf.write_text(_config(root, port, login_user, internal_user, internal_group), encoding="utf-8")
        process = subprocess.Popen(
            [binary, "-F", "-c", str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        server = DovecotServer("127.0.0.1", port, username, password, root, process)
        try:
            _wait_for_greeting(server)
            return server
        except RuntimeError as error:
            last_error = error
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=10)
    shutil.rmtree(root, ignore_errors=True)
    raise RuntimeError(f"dovecot would not start: {last_error}")
