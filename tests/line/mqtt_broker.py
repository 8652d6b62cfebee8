"""A real mosquitto on 127.0.0.1 for line tests and benchmarks: start, stop and restart it on one port (a broker
outage), with persistence so that a persistent subscriber's session survives the restart; optional TLS and
password. Import with ``sys.path`` pointing here (tests are not packages)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

MOSQUITTO = shutil.which("mosquitto") or (
    "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
)
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """One mosquitto process at a time on ``port``; ``stop()`` and ``start()`` make an outage."""

    def __init__(self, folder: Path, tls: dict | None = None, users: dict[str, str] | None = None) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        lines = [f"listener {self.port} 127.0.0.1", "persistence true", f"persistence_location {self.folder}/",
                 "autosave_interval 1", "max_queued_messages 100000"]  # fmt: skip
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            lines.append("user root")  # else mosquitto drops to its own user, who cannot read our temp folder
        if users:
            pw = self.folder / "passwd"
            pw.write_text("")
            for user, password in users.items():
                subprocess.run(
                    [MOSQUITTO_PASSWD, "-b", str(pw), user, password], check=True, capture_output=True
                )
            lines += ["allow_anonymous false", f"password_file {pw}"]
        else:
            lines.append("allow_anonymous true")
        if tls:
            lines += [f"cafile {tls['ca']}", f"certfile {tls['cert']}", f"keyfile {tls['key']}"]
        self.conf = self.folder / "mosquitto.conf"
        self.conf.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        log = open(self.folder / "mosquitto.log", "ab")  # noqa: SIM115 - the broker writes it while it runs
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=log, stderr=log)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError((self.folder / "mosquitto.log").read_text()[-2000:]) from None
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not open its port")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: mosquitto saves its persistence file
            self.proc.wait(timeout=20)
        self.proc = None


class Subscriber:
    """A persistent subscriber (clean_session False, QoS 1): the broker keeps its messages across restarts."""

    def __init__(self, port: int, topic: str, client_id: str = "persistent-subscriber", **connect) -> None:
        import paho.mqtt.client as mqtt

        self.messages: list[tuple[str, dict]] = []
        self.first_seen: dict[str, float] = {}  # message id -> time.time() it first arrived
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        c.reconnect_delay_set(min_delay=1, max_delay=1)
        if connect.get("username"):
            c.username_pw_set(connect["username"], connect.get("password"))
        if connect.get("ca"):
            c.tls_set(ca_certs=str(connect["ca"]))

        def on_message(client, userdata, m) -> None:
            payload = json.loads(m.payload)
            with self._lock:
                self.messages.append((m.topic, payload))
                if isinstance(payload, dict) and "id" in payload:
                    self.first_seen.setdefault(str(payload["id"]), time.time())

        c.on_message = on_message
        c.on_subscribe = lambda *a: self._subscribed.set()
        c.on_connect = lambda client, *a: client.subscribe([(topic, 1), (f"{topic}/#", 1)])
        c.connect("127.0.0.1", port)
        c.loop_start()
        if not self._subscribed.wait(10):
            raise RuntimeError("the subscriber could not subscribe")
        self.client = c

    def ids(self, topic: str) -> list[str]:
        with self._lock:
            return [m["id"] for t, m in self.messages if t == topic]

    def wait_for(self, topic: str, ids: set[str], timeout: float) -> set[str]:
        """The ids of ``ids`` not received within ``timeout`` seconds."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            missing = ids - set(self.ids(topic))
            if not missing:
                return set()
            time.sleep(0.1)
        return ids - set(self.ids(topic))

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def make_tls_files(folder: Path) -> dict[str, Path]:
    """A CA and a server certificate for 127.0.0.1 made with the openssl command."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key, csr, cert = (
        folder / n for n in ("ca.key", "ca.crt", "server.key", "server.csr", "server.crt")
    )
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca), "-days", "2",
        "-subj", "/CN=workbench test CA")  # fmt: skip
    run(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(key),
        "-out",
        str(csr),
        "-subj",
        "/CN=127.0.0.1",
    )
    ext = folder / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial", "-out", str(cert),
        "-days", "2", "-extfile", str(ext))  # fmt: skip
    return {"ca": ca, "cert": cert, "key": key}
