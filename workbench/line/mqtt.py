"""Line results to an MQTT broker without ever holding up inspection.

``MqttSink.publish`` only writes the message to the run's disk queue (:mod:`workbench.line.outbox`) and
returns. A sender thread hands queued messages to paho-mqtt in order (QoS 1) while the broker is
connected, and deletes each from the queue when the broker acknowledges it; paho reconnects on its own
and resends what was in flight, so an outage of seconds or minutes delays results but loses none
(at-least-once: a result may arrive twice, each carries its unique part id). Every run connects with its
own client id, so two runs of one bundle never knock each other off the broker. TLS and user/password
are options; the password comes from a file or ``WORKBENCH_MQTT_PASSWORD``, never the command line.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from workbench.line.outbox import Outbox, default_folder

log = logging.getLogger(__name__)

PASSWORD_ENV = "WORKBENCH_MQTT_PASSWORD"
_WINDOW = 100  # messages handed to paho and not yet acknowledged, at most


class MqttError(RuntimeError):
    """The MQTT broker cannot be reached or refused a message (host and port in the message)."""


def parse_host_port(spec: str, default_port: int = 1883) -> tuple[str, int]:
    """'HOST', 'HOST:PORT' or ':PORT' -> (host, port)."""
    host, _, port = spec.rpartition(":") if ":" in spec else (spec, "", "")
    host = host or "127.0.0.1"
    try:
        p = int(port) if port else default_port
    except ValueError:
        raise ValueError(f"--mqtt: expected HOST:PORT (e.g. 127.0.0.1:1883); found {spec!r}") from None
    if not 0 < p < 65536:
        raise ValueError(f"--mqtt: port must be 1..65535; found {p}")
    return host, p


def unique_client_id(prefix: str = "workbench") -> str:
    """A client id no other run shares: prefix, host, process and a random part (MQTT allows 23+ chars)."""
    host = "".join(c for c in socket.gethostname() if c.isalnum())[:16] or "host"
    return f"{prefix[:40]}-{host}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class MqttSink:
    """Publishes JSON payloads with QoS 1 through a disk queue; ``publish`` never waits for the network."""

    def __init__(
        self,
        host: str,
        port: int,
        client_id: str = "",
        *,
        queue_dir: str | os.PathLike | None = None,
        tls: bool = False,
        ca_file: str | os.PathLike | None = None,
        cert_file: str | os.PathLike | None = None,
        key_file: str | os.PathLike | None = None,
        username: str | None = None,
        password: str | None = None,
        connect_timeout_s: float = 10.0,
        drain_timeout_s: float = 30.0,
    ) -> None:
        try:
            import paho.mqtt.client as mqtt
        except ImportError as exc:
            raise ImportError("--mqtt needs the package paho-mqtt (pip install paho-mqtt)") from exc
        self.host, self.port = host, port
        self.client_id = client_id or unique_client_id()
        self.drain_timeout_s = drain_timeout_s
        self._mqtt = mqtt
        self._outbox = Outbox(queue_dir or default_folder(host, port), self.client_id)
        self._mutex = threading.Lock()
        self._inflight: dict[int, int] = {}  # paho message id -> queue seq
        self._early: set[int] = set()  # acknowledged before the mapping was stored
        self._acked: list[int] = []
        self._cursor = 0  # highest seq handed to paho
        self._connected = threading.Event()
        self._refused: str | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.published = 0
        self._left: int | None = None  # set by close()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id)
        client.reconnect_delay_set(min_delay=1, max_delay=2)  # back within ~2 s of the broker
        if username:
            client.username_pw_set(username, password)
        if tls or ca_file or cert_file:
            for what, path in (("CA", ca_file), ("certificate", cert_file), ("key", key_file)):
                if path is not None and not Path(path).is_file():
                    raise MqttError(f"MQTT TLS {what} file {path} does not exist")
            client.tls_set(
                ca_certs=os.fspath(ca_file) if ca_file else None,
                certfile=os.fspath(cert_file) if cert_file else None,
                keyfile=os.fspath(key_file) if key_file else None,
            )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        self._client = client
        try:
            client.connect(host, port, keepalive=30)  # refused, unknown host or TLS failure: said now
        except (OSError, ValueError) as exc:
            self._outbox.close()
            raise MqttError(f"cannot reach the MQTT broker at {host}:{port}: {exc}") from exc
        client.loop_start()
        if not self._connected.wait(connect_timeout_s) or self._refused:
            why = self._refused or f"no answer within {connect_timeout_s:g} s"
            client.loop_stop()
            self._outbox.close()
            raise MqttError(f"cannot reach the MQTT broker at {host}:{port}: {why}")
        self._sender = threading.Thread(target=self._send_loop, name="mqtt-sender", daemon=True)
        self._sender.start()
        log.info("mqtt: connected to %s:%d as %s (queue %s)", host, port, self.client_id, self._outbox.path)

    # --- the inspection side ---------------------------------------------------------------------
    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        """Queue one message on disk and return; it is sent when the broker is reachable."""
        self._outbox.put(topic, json.dumps(payload))
        self._wake.set()

    @property
    def queued(self) -> int:
        """Messages not yet acknowledged by the broker (after :meth:`close`: those left on disk)."""
        return self._left if self._left is not None else self._outbox.count()

    def close(self) -> None:
        """Wait up to ``drain_timeout_s`` for the queue to empty, then disconnect; what is left stays queued
        on disk and goes out with the next run."""
        deadline = time.monotonic() + self.drain_timeout_s
        while self.queued and time.monotonic() < deadline:
            self._wake.set()
            time.sleep(0.05)
        self._stop.set()
        self._wake.set()
        self._sender.join(timeout=5)
        self._settle()
        left = self._left = self._outbox.count()
        self._client.disconnect()
        self._client.loop_stop()
        if left:
            log.warning(
                "MQTT broker %s:%d did not acknowledge %d result(s) in time; they stay queued in %s and are "
                "sent by the next run", self.host, self.port, left, self._outbox.path,
            )  # fmt: skip
        self._outbox.close()

    # --- paho callbacks (its network thread) -----------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties=None) -> None:
        if getattr(reason_code, "is_failure", False):
            if not self._connected.is_set():
                self._refused = f"the broker refused the connection ({reason_code})"
                self._connected.set()  # wakes the constructor, which reports the refusal
            else:
                log.warning(
                    "mqtt: %s:%d refused to reconnect (%s); results stay queued",
                    self.host,
                    self.port,
                    reason_code,
                )
            return
        if self._connected.is_set():
            log.info("mqtt: connected again to %s:%d", self.host, self.port)
        self._connected.set()
        self._wake.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties=None) -> None:
        # a refused first connection ends in a disconnect too: the constructor says why, in one line
        if not self._stop.is_set() and self._connected.is_set() and not self._refused:
            log.warning(
                "mqtt: lost %s:%d (%s); results are queued on disk", self.host, self.port, reason_code
            )

    def _on_publish(self, client, userdata, mid, reason_code=None, properties=None) -> None:
        with self._mutex:
            seq = self._inflight.pop(mid, None)
            if seq is None:
                self._early.add(mid)
            else:
                self._acked.append(seq)
        self._wake.set()

    # --- the sender thread ------------------------------------------------------------------------
    def _settle(self) -> None:
        with self._mutex:
            done, self._acked = self._acked, []
        self._outbox.done(done)
        self.published += len(done)

    def _send_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(0.2)
            self._wake.clear()
            self._settle()
            if not self._client.is_connected():
                continue  # paho reconnects and resends what it holds; new messages wait on disk
            with self._mutex:
                room = _WINDOW - len(self._inflight)
            if room <= 0:
                continue
            for seq, topic, payload in self._outbox.next(self._cursor, room):
                info = self._client.publish(topic, payload, qos=1)
                if info.rc not in (self._mqtt.MQTT_ERR_SUCCESS, self._mqtt.MQTT_ERR_NO_CONN):
                    break  # e.g. paho's queue is full: try again on the next round
                self._cursor = seq
                with self._mutex:
                    if info.mid in self._early:
                        self._early.discard(info.mid)
                        self._acked.append(seq)
                    else:
                        self._inflight[info.mid] = seq


def add_mqtt_arguments(p: argparse.ArgumentParser) -> None:
    """The MQTT options of `workbench run` besides --mqtt and --topic."""
    p.add_argument("--mqtt-queue", type=Path, default=None, metavar="DIR",
                   help="folder of the on-disk queue of unsent results (default: the user's cache folder)")  # fmt: skip
    p.add_argument("--mqtt-tls", action="store_true", help="connect with TLS (system CA unless --mqtt-ca)")
    p.add_argument("--mqtt-ca", type=Path, default=None, metavar="FILE", help="CA certificate(s) for TLS")
    p.add_argument("--mqtt-cert", type=Path, default=None, metavar="FILE", help="client certificate for TLS")
    p.add_argument("--mqtt-key", type=Path, default=None, metavar="FILE", help="client key for TLS")
    p.add_argument("--mqtt-user", default=None, metavar="NAME", help="user name for the broker")
    p.add_argument("--mqtt-password-file", type=Path, default=None, metavar="FILE",
                   help=f"file holding the broker password (default: ${PASSWORD_ENV})")  # fmt: skip
    p.add_argument("--mqtt-drain", type=float, default=30.0, metavar="S",
                   help="at the end, wait up to S seconds for the broker to take queued results (default 30)")  # fmt: skip


def sink_from_args(args: argparse.Namespace, station: str) -> MqttSink | None:
    """The MqttSink the command line asks for (None without --mqtt)."""
    if not getattr(args, "mqtt", None):
        return None
    host, port = parse_host_port(args.mqtt)
    password = None
    if getattr(args, "mqtt_password_file", None) is not None:
        try:
            password = args.mqtt_password_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise MqttError(
                f"--mqtt-password-file {args.mqtt_password_file}: {exc.strerror or exc}"
            ) from None
    elif os.environ.get(PASSWORD_ENV):
        password = os.environ[PASSWORD_ENV]
    if getattr(args, "mqtt_drain", 30.0) < 0:
        raise ValueError(f"--mqtt-drain: expected seconds >= 0; found {args.mqtt_drain}")
    return MqttSink(
        host, port, unique_client_id(f"workbench-{station}"), queue_dir=getattr(args, "mqtt_queue", None),
        tls=getattr(args, "mqtt_tls", False), ca_file=getattr(args, "mqtt_ca", None),
        cert_file=getattr(args, "mqtt_cert", None), key_file=getattr(args, "mqtt_key", None),
        username=getattr(args, "mqtt_user", None), password=password,
        drain_timeout_s=getattr(args, "mqtt_drain", 30.0),
    )  # fmt: skip
