"""The line keeps inspecting while the MQTT broker is away: results wait on disk in order and reach a
persistent subscriber when the broker is back (a real mosquitto on 127.0.0.1, stopped mid-run for 5 s);
client ids and part ids are unique per run; TLS and passwords work; a truncated video is reported."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "export"))
sys.path.insert(0, str(HERE))
from exported_station import exported_station  # noqa: E402
from mqtt_broker import MOSQUITTO, Broker, Subscriber, make_tls_files  # noqa: E402

from workbench.line.bundle import Bundle  # noqa: E402
from workbench.line.inspect import LineInspector  # noqa: E402
from workbench.line.outbox import Outbox  # noqa: E402
from workbench.line.sinks import save_ng_part  # noqa: E402

needs_broker = pytest.mark.skipif(
    MOSQUITTO is None, reason="mosquitto is not installed (apt-get install mosquitto)"
)


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    return exported_station(tmp_path_factory.getbasetemp())


@pytest.fixture
def broker(tmp_path):
    pytest.importorskip("paho.mqtt.client")
    b = Broker(tmp_path / "broker")
    yield b
    b.stop()


def _unique_in_order(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


@needs_broker
def test_a_5s_broker_outage_mid_run_loses_no_result(station, broker, tmp_path):
    sub = Subscriber(broker.port, "plant/outage")
    queue = tmp_path / "queue"
    cmd = [
        sys.executable, "-m", "workbench", "run", str(station["bundle"]), "--source", f"sim:{station['video']}",
        "--device", "cpu", "--mqtt", f"127.0.0.1:{broker.port}", "--topic", "plant/outage",
        "--mqtt-queue", str(queue), "--mqtt-drain", "60",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results: list[dict] = []
    first = threading.Event()

    def read() -> None:
        for line in proc.stdout:
            if line.startswith("{"):
                results.append(json.loads(line))
                first.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert first.wait(300), proc.stderr.read() if proc.poll() is not None else "no part within 300 s"
        time.sleep(2.0)  # parts come every ~5 s: the outage then spans the next one
        outage_start = dt.datetime.now(dt.UTC)
        broker.stop()
        time.sleep(5.0)
        broker.start()
        outage_end = dt.datetime.now(dt.UTC)
        code = proc.wait(timeout=600)
        reader.join(timeout=10)
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    try:
        assert code == 0, err
        assert len(results) == 8  # every pass of the video was inspected and printed
        during = [r for r in results if outage_start <= dt.datetime.fromisoformat(r["time"]) <= outage_end]
        assert during, "no part was inspected while the broker was away: the outage proved nothing"
        assert "results are queued on disk" in err
        ids = [r["id"] for r in results]
        assert len(set(ids)) == len(ids)
        missing = sub.wait_for("plant/outage", set(ids), timeout=60)
        assert not missing, f"the broker never delivered {sorted(missing)}"
        assert _unique_in_order(sub.ids("plant/outage")) == ids  # in inspection order
        assert not list(queue.glob("*.outbox"))  # everything acknowledged, nothing left queued
    finally:
        sub.close()


@needs_broker
def test_publish_queues_on_disk_while_the_broker_is_away_and_sends_in_order(broker, tmp_path):
    from workbench.line.mqtt import MqttSink

    sub = Subscriber(broker.port, "t/q")
    sink = MqttSink("127.0.0.1", broker.port, queue_dir=tmp_path / "q", drain_timeout_s=60)
    try:
        broker.stop()
        for i in range(20):
            sink.publish("t/q", {"id": f"p{i:02d}"})  # returns at once, broker or not
        assert sink.queued == 20
        assert len(list((tmp_path / "q").glob("*.outbox"))) == 1  # on disk, not only in memory
        broker.start()
    finally:
        sink.close()
    assert sink.queued == 0
    want = [f"p{i:02d}" for i in range(20)]
    assert not sub.wait_for("t/q", set(want), timeout=30)
    assert _unique_in_order(sub.ids("t/q")) == want
    sub.close()


@needs_broker
def test_results_left_by_a_dead_run_are_sent_first_by_the_next(broker, tmp_path):
    from workbench.line.mqtt import MqttSink

    sub = Subscriber(broker.port, "t/a")
    dead = Outbox(tmp_path / "q", "killed-run")
    for i in range(3):
        dead.put("t/a", json.dumps({"id": f"old{i}"}))
    dead.close()  # what a killed run leaves: its queue file, unlocked
    sink = MqttSink("127.0.0.1", broker.port, queue_dir=tmp_path / "q")
    sink.publish("t/a", {"id": "new0"})
    sink.close()
    assert not sub.wait_for("t/a", {"old0", "old1", "old2", "new0"}, timeout=30)
    assert _unique_in_order(sub.ids("t/a")) == ["old0", "old1", "old2", "new0"]
    assert not list((tmp_path / "q").glob("*.outbox"))
    sub.close()


@needs_broker
def test_two_runs_at_once_keep_their_own_connections(broker, tmp_path):
    from workbench.line.mqtt import MqttSink

    sub = Subscriber(broker.port, "t/two")
    a = MqttSink("127.0.0.1", broker.port, queue_dir=tmp_path / "q")
    b = MqttSink("127.0.0.1", broker.port, queue_dir=tmp_path / "q")
    assert a.client_id != b.client_id
    for i in range(5):
        a.publish("t/two", {"id": f"a{i}"})
        b.publish("t/two", {"id": f"b{i}"})
    a.close()
    b.close()
    want = {f"{k}{i}" for k in "ab" for i in range(5)}
    assert not sub.wait_for("t/two", want, timeout=30)
    sub.close()


@needs_broker
def test_tls_with_user_and_password(tmp_path, station, capsys, monkeypatch):
    pytest.importorskip("paho.mqtt.client")
    import shutil

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    from workbench.cli.main import main

    tls = make_tls_files(tmp_path / "tls")
    broker = Broker(tmp_path / "broker", tls=tls, users={"line1": "s3cret"})
    try:
        sub = Subscriber(broker.port, "plant/tls", username="line1", password="s3cret", ca=tls["ca"])
        base = [
            "run", str(station["bundle"]), "--source", str(station["video"]), "--device", "cpu", "--max-parts",
            "2", "--mqtt", f"127.0.0.1:{broker.port}", "--topic", "plant/tls", "--mqtt-queue", str(tmp_path / "q"),
            "--mqtt-tls", "--mqtt-ca", str(tls["ca"]), "--mqtt-user", "line1",
        ]  # fmt: skip
        monkeypatch.setenv("WORKBENCH_MQTT_PASSWORD", "wrong")
        assert main(base) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "cannot reach the MQTT broker" in err and "refused" in err
        monkeypatch.setenv("WORKBENCH_MQTT_PASSWORD", "s3cret")
        assert main(base) == 0
        ids = [
            json.loads(line)["id"] for line in capsys.readouterr().out.splitlines() if line.startswith("{")
        ]
        assert len(ids) == 2 and not sub.wait_for("plant/tls", set(ids), timeout=30)
        sub.close()
    finally:
        broker.stop()


def test_part_ids_and_ng_folders_are_unique_across_runs(station, tmp_path):
    bundle = Bundle.load(station["bundle"])
    first, second = LineInspector(bundle, {}), LineInspector(bundle, {})  # started in the same second
    assert first.run_id != second.run_id
    result = {"id": "20240101T000000-abc123-00001", "verdict": "NG", "views": {}}
    one = save_ng_part(tmp_path / "ng", result, {}, {})
    (one / "keep.txt").write_text("first run's part")
    two = save_ng_part(tmp_path / "ng", result, {}, {})
    assert one != two and (one / "keep.txt").read_text() == "first run's part"
    assert json.loads((two / "result.json").read_text())["id"] == result["id"]


def test_a_truncated_video_is_reported_and_its_parts_inspected(station, tmp_path):
    reader = cv2.VideoCapture(str(station["video"]))
    avi = tmp_path / "line.avi"
    writer = None
    while True:
        ok, frame = reader.read()
        if not ok:
            break
        if writer is None:
            h, w = frame.shape[:2]
            writer = cv2.VideoWriter(str(avi), cv2.VideoWriter_fourcc(*"MJPG"), 25, (w, h))
        writer.write(frame)
    writer.release()
    data = avi.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: int(len(data) * 0.6)])  # the index at the end is gone, the header still says all
    proc = subprocess.run(
        [sys.executable, "-m", "workbench", "run", str(station["bundle"]), "--source", str(cut), "--device", "cpu"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    parts = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert 0 < len(parts) < 8
    assert "cut.avi' ended at frame" in proc.stderr and "the file may be truncated" in proc.stderr


@needs_broker
def test_two_runs_of_one_bundle_at_once_deliver_every_part_and_keep_every_ng_folder(
    station, broker, tmp_path
):
    """The probe's case end to end: two `workbench run` of the same bundle, same broker, same NG folder and
    queue folder, started together. Each keeps its connection (own client id), every part id is unique,
    every result is delivered and no NG folder is overwritten."""
    sub = Subscriber(broker.port, "plant/two")
    ng = tmp_path / "ng"
    cmd = [
        sys.executable, "-m", "workbench", "run", str(station["bundle"]), "--source", str(station["video"]),
        "--device", "cpu", "--mqtt", f"127.0.0.1:{broker.port}", "--topic", "plant/two",
        "--mqtt-queue", str(tmp_path / "q"), "--save-ng", str(ng),
    ]  # fmt: skip
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)
    ]
    outs = [p.communicate(timeout=900) for p in procs]
    try:
        assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
        runs = [[json.loads(line) for line in out.splitlines() if line.startswith("{")] for out, _ in outs]
        assert [len(r) for r in runs] == [8, 8]
        ids = [r["id"] for rs in runs for r in rs]
        assert len(set(ids)) == 16
        assert not sub.wait_for("plant/two", set(ids), timeout=60)
        ng_ids = sorted(r["id"] for rs in runs for r in rs if r["verdict"] == "NG")
        assert ng_ids, "no NG part: the NG folders were not exercised"
        saved = sorted(json.loads(f.read_text())["id"] for f in ng.rglob("result.json"))
        assert saved == ng_ids  # one folder per NG part of either run, none overwritten
    finally:
        sub.close()
