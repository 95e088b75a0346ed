"""machi-mailer: delivery over SMTP, Message-ID, retries, DB restarts, at-most-once after kill -9."""

import base64
import email
import email.header
import os
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import CHILD_ENV, MAILER_BIN, SmtpSink, free_port, wait_until


class Mailer:
    """A running machi-mailer with its log in a temp file."""

    def __init__(self, cluster, smtp_port, *extra):
        self.log = tempfile.NamedTemporaryFile(prefix="machi-e2e-mailer-", suffix=".log", dir="/tmp", delete=False)
        args = [MAILER_BIN, "--conninfo", cluster.conninfo("machi_mailer"), "--smtp-url",
                f"smtp://127.0.0.1:{smtp_port}", "--starttls", "none", "--from", "noreply@machi.test",
                "--poll-interval", "1", *extra]
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log, env=CHILD_ENV)

    def output(self):
        with open(self.log.name, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                raise AssertionError("mailer did not stop in time")
        return self.proc.returncode

    def destroy(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        os.unlink(self.log.name)


@pytest.fixture
def outbox(cluster, mock_only):
    """A connection to the (mock) outbox, emptied before the test."""
    with cluster.connect() as conn:
        conn.execute("DELETE FROM machi.outbox")
        yield conn


@pytest.fixture
def mailers():
    made = []
    yield made
    for m in made:
        m.destroy()


def enqueue(conn, n, prefix="m"):
    for i in range(n):
        conn.execute("INSERT INTO machi.outbox (recipient, subject, body, message_id) VALUES (%s, %s, %s, %s)",
                     (f"user{i}@example.org", f"Report {i} \u65e5\u672c", f"Hello {i}\n.line", f"{prefix}{i}@machi.test"))


def states(conn):
    return dict(conn.execute("SELECT state, count(*) FROM machi.outbox GROUP BY state").fetchall())


def test_delivers_with_message_id(cluster, outbox, smtp_sink, mailers):
    m = Mailer(cluster, smtp_sink.port)
    mailers.append(m)
    enqueue(outbox, 1, prefix="hello")
    wait_until(lambda: len(smtp_sink.messages) == 1, 10, what="delivery")
    msg = email.message_from_bytes(smtp_sink.messages[0])
    assert msg["Message-ID"] == "<hello0@machi.test>"
    assert msg["To"] == "<user0@example.org>"
    assert msg["From"] == "<noreply@machi.test>"
    subject = str(email.header.make_header(email.header.decode_header(msg["Subject"])))
    assert subject == "Report 0 \u65e5\u672c"
    assert base64.b64decode(msg.get_payload()).decode() == "Hello 0\n.line"
    wait_until(lambda: states(outbox) == {"sent": 1}, 5, what="ack")
    assert m.stop() == 0
    assert "stopped" in m.output()


def test_notify_wakes_mailer_quickly(cluster, outbox, smtp_sink, mailers):
    m = Mailer(cluster, smtp_sink.port, "--poll-interval", "60")
    mailers.append(m)
    wait_until(lambda: "listening" in m.output(), 10, what="mailer start")
    t0 = time.monotonic()
    enqueue(outbox, 1)
    wait_until(lambda: len(smtp_sink.messages) == 1, 5, what="delivery on NOTIFY")
    assert time.monotonic() - t0 < 3


def test_smtp_failure_is_acked_for_retry(cluster, outbox, mailers):
    m = Mailer(cluster, free_port())  # nobody listens there
    mailers.append(m)
    enqueue(outbox, 1)
    wait_until(lambda: outbox.execute("SELECT attempts, state, last_error FROM machi.outbox").fetchone()[2]
               is not None, 15, what="failure ack")
    attempts, state, err = outbox.execute("SELECT attempts, state, last_error FROM machi.outbox").fetchone()
    assert state == "queued" and attempts >= 1 and err
    assert m.stop() == 0


def test_kill9_never_duplicates(cluster, outbox, mailers):
    sink = SmtpSink(delay=0.1)
    try:
        total = 30
        enqueue(outbox, total)
        m1 = Mailer(cluster, sink.port, "--batch", "3")
        mailers.append(m1)
        wait_until(lambda: len(sink.messages) >= 6, 15, what="first deliveries")
        m1.proc.send_signal(signal.SIGKILL)
        m1.proc.wait(5)
        m2 = Mailer(cluster, sink.port, "--batch", "3")
        mailers.append(m2)
        wait_until(lambda: states(outbox).get("queued", 0) == 0, 30, 0.1, what="outbox drained")
        wait_until(lambda: len(sink.messages) >= states(outbox).get("sent", 0), 5, what="last deliveries")
        assert m2.stop() == 0
        ids = sink.message_ids()
        assert len(ids) == len(set(ids)), "a message was delivered twice"
        st = states(outbox)
        assert st.get("sent", 0) + st.get("sending", 0) == total
        assert st.get("sending", 0) <= 3  # at most the batch the killed mailer held
        sent_ids = {f"<{r[0]}>" for r in outbox.execute("SELECT message_id FROM machi.outbox WHERE state = 'sent'")}
        assert sent_ids <= set(ids)
    finally:
        sink.stop()


def test_reconnects_after_database_restart(cluster, outbox, smtp_sink, mailers, restartable):
    m = Mailer(cluster, smtp_sink.port)
    mailers.append(m)
    wait_until(lambda: "listening" in m.output(), 10, what="mailer start")
    outbox.close()
    cluster.stop()
    time.sleep(1)
    cluster.start()
    with cluster.connect() as conn:
        enqueue(conn, 2, prefix="after")
        wait_until(lambda: len(smtp_sink.messages) == 2, 20, 0.1, what="delivery after restart")
    assert m.proc.poll() is None
    assert "reconnecting" in m.output()


def test_help_and_no_password_on_argv():
    out = subprocess.run([MAILER_BIN, "--help"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0
    for opt in ("--conninfo", "--smtp-url", "--starttls", "--smtp-user", "--smtp-password-file", "--from",
                "--batch", "--poll-interval", "--smtp-timeout", "--ca-file", "--worker"):
        assert opt in out.stdout
    bad = subprocess.run([MAILER_BIN, "--smtp-url", "smtp://127.0.0.1:1", "--from", "a@b", "--smtp-password", "x"],
                         capture_output=True, text=True, timeout=10)
    assert bad.returncode == 2
    assert "password" in bad.stderr


def test_starttls_required_delivers(cluster, certs, outbox, mailers):
    sink = SmtpSink(mode="starttls", certs=certs)
    try:
        m = Mailer(cluster, sink.port, "--starttls", "required", "--ca-file", certs.cert)
        mailers.append(m)
        enqueue(outbox, 1)
        wait_until(lambda: len(sink.messages) == 1, 10, what="delivery over STARTTLS")
    finally:
        sink.stop()


def test_starttls_required_refuses_plain_server(cluster, outbox, smtp_sink, mailers):
    m = Mailer(cluster, smtp_sink.port, "--starttls", "required")
    mailers.append(m)
    enqueue(outbox, 1)
    wait_until(lambda: outbox.execute("SELECT last_error FROM machi.outbox").fetchone()[0] is not None, 10,
               what="failure ack")
    assert not smtp_sink.messages


def test_untrusted_server_certificate_refused(cluster, certs, outbox, mailers):
    sink = SmtpSink(mode="starttls", certs=certs)
    try:
        m = Mailer(cluster, sink.port, "--starttls", "required")  # no --ca-file: the self-signed cert is not trusted
        mailers.append(m)
        enqueue(outbox, 1)
        wait_until(lambda: outbox.execute("SELECT last_error FROM machi.outbox").fetchone()[0] is not None, 10,
                   what="failure ack")
        assert not sink.messages
    finally:
        sink.stop()


def test_smtps_with_auth_from_file(cluster, certs, outbox, mailers):
    sink = SmtpSink(mode="implicit", certs=certs, auth=("machi", "s3cret pass"))
    pwfile = tempfile.NamedTemporaryFile("w", prefix="machi-e2e-pw-", dir="/tmp", delete=False)
    try:
        pwfile.write("s3cret pass\n")
        pwfile.close()
        args = [MAILER_BIN, "--conninfo", cluster.conninfo("machi_mailer"), "--smtp-url",
                f"smtps://127.0.0.1:{sink.port}", "--ca-file", certs.cert, "--smtp-user", "machi",
                "--smtp-password-file", pwfile.name, "--from", "noreply@machi.test", "--poll-interval", "1"]
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=CHILD_ENV)
        try:
            enqueue(outbox, 1)
            wait_until(lambda: len(sink.messages) == 1, 10, what="delivery over SMTPS with AUTH")
            assert sink.logins == [("machi", "s3cret pass")]
        finally:
            proc.terminate()
            assert proc.wait(10) == 0
    finally:
        sink.stop()
        os.unlink(pwfile.name)
