"""Line mode end to end: the demo video through an exported bundle, results on stdout and on a local mosquitto
broker (every message checked), verdicts equal to torch predict under the policy, NG images, zone alerts."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "export"))
from exported_station import exported_station  # noqa: E402

from workbench.cli.main import main  # noqa: E402
from workbench.jobs.export import load_model  # noqa: E402
from workbench.line.bundle import Bundle  # noqa: E402
from workbench.metrics.policy import apply_policy  # noqa: E402
from workbench.project import Project  # noqa: E402

MOSQUITTO = shutil.which("mosquitto") or (
    "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
)


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    return exported_station(tmp_path_factory.getbasetemp())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def broker(tmp_path):
    if MOSQUITTO is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    pytest.importorskip("paho.mqtt.client")
    port = _free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"mosquitto did not start: {proc.stderr.read().decode()}")
            time.sleep(0.1)
    yield port
    proc.terminate()
    proc.wait(timeout=10)


class Subscriber:
    def __init__(self, port: int, topic: str) -> None:
        import paho.mqtt.client as mqtt

        self.messages: list[tuple[str, dict]] = []
        self.ready = False
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-subscriber")
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, json.loads(m.payload)))
        self.client.on_subscribe = lambda *a: setattr(self, "ready", True)
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(f"{topic}/#", qos=1)
        self.client.subscribe(topic, qos=1)
        self.client.loop_start()
        for _ in range(100):
            if self.ready:
                break
            time.sleep(0.05)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _reference_verdicts(station) -> dict[tuple[int, str], tuple[str, float]]:
    """{(first frame of the pass, view): ('OK'/'NG', score)} from torch predict on the project's samples."""
    bundle = Bundle.load(station["bundle"])
    out = {}
    with Project.open(station["project"]) as p:
        passes = p.sources[0].meta["passes"]
        for run in p.runs:
            model = load_model(p, run)
            samples = p.samples(view=run.view)
            scores, maps = model.predict([p.sample_image(s.id) for s in samples])
            v = bundle.view(run.view)
            policy = v.policy
            zones = {run.view: (v.zones, v.zone_names)} if policy.level == "pixel" else None
            ng = apply_policy(policy, scores, [run.view] * len(samples), list(maps), zones, {run.view: v.roi})
            for s, bad, s_ in zip(samples, ng, scores):
                out[(passes[s.pass_index][0], run.view)] = ("NG" if bad else "OK", float(s_))
    return out


def test_line_mode_publishes_every_part_and_alert_on_mqtt(station, broker, tmp_path, capsys):
    sub = Subscriber(broker, "plant/line1")
    ng_dir = tmp_path / "ng"
    try:
        code = main(
            [
                "run", str(station["bundle"]), "--source", str(station["video"]), "--mqtt", f"127.0.0.1:{broker}",
                "--topic", "plant/line1", "--save-ng", str(ng_dir), "--alert-window", "2", "--alert-limit", "0.6",
                "--device", "cpu",
            ]
        )  # fmt: skip
        captured = capsys.readouterr()
        assert code == 0, captured.err
        deadline = time.time() + 10
        results = [json.loads(line) for line in captured.out.splitlines() if line.startswith("{")]
        alerts = [json.loads(line[6:]) for line in captured.err.splitlines() if line.startswith("ALERT ")]
        while time.time() < deadline and len(sub.messages) < len(results) + len(alerts):
            time.sleep(0.1)
    finally:
        sub.close()
    with Project.open(station["project"]) as p:
        passes = p.sources[0].meta["passes"]
        views = list(p.views)
    assert len(results) == len(passes) == 8
    assert [m for t, m in sub.messages if t == "plant/line1"] == results
    assert [m for t, m in sub.messages if t == "plant/line1/alerts"] == alerts
    assert len(sub.messages) == len(results) + len(alerts)

    reference = _reference_verdicts(station)
    for r, (first, last) in zip(results, passes):
        assert r["frames"] == [first, last]
        assert set(r["views"]) == set(views)
        for view, vr in r["views"].items():
            want, score = reference[(first, view)]
            assert vr["score"] == pytest.approx(score, rel=1e-4)
            # A threshold fitted on validation normals lies one float step above the highest one: that
            # sample's verdict is float noise (batch vs single inference), not a property of the bundle.
            if abs(score - vr["threshold"]) > 1e-5 * abs(vr["threshold"]):
                assert vr["verdict"] == want, (r["part"], view)
            if vr["verdict"] == "NG":
                assert vr["defects"], "an NG view names where its defects are"
                for d in vr["defects"]:
                    x, y, w, h = d["box"]
                    assert w > 0 and h > 0 and d["area"] <= w * h
        assert r["verdict"] == ("NG" if any(v["verdict"] == "NG" for v in r["views"].values()) else "OK")
        saved = ng_dir / r["id"]
        assert saved.is_dir() == (r["verdict"] == "NG")
        if saved.is_dir():
            assert json.loads((saved / "result.json").read_text())["id"] == r["id"]
            assert {f.name for f in saved.iterdir()} >= {f"{v}.png" for v in views}
    assert any(r["verdict"] == "NG" for r in results) and any(r["verdict"] == "OK" for r in results)
    # Window 2, limit 0.6: a zone with defects in both of the last 2 parts is over the limit.
    for a in alerts:
        assert a["rate"] > 0.6 and a["window"] == 2
        last_two = [r for r in results if r["part"] in (a["part"] - 1, a["part"])]
        assert all(any(d["zone"] == a["zone"] for d in r["views"][a["view"]]["defects"]) for r in last_two)


def test_unreachable_broker_is_a_clear_error(station, capsys):
    pytest.importorskip("paho.mqtt.client")
    code = main(
        [
            "run",
            str(station["bundle"]),
            "--source",
            str(station["video"]),
            "--mqtt",
            f"127.0.0.1:{_free_port()}",
        ]
    )
    assert code == 1
    assert "cannot reach the MQTT broker at 127.0.0.1:" in capsys.readouterr().err


def test_simulated_camera_source_and_fusion_rule_all(station, capsys):
    code = main(
        [
            "run",
            str(station["bundle"]),
            "--source",
            f"sim:{station['video']}",
            "--fast",
            "--fusion",
            "all",
            "--max-parts",
            "3",
        ]
    )
    out = capsys.readouterr().out
    results = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert code == 0 and len(results) == 3
    for r in results:
        assert r["fusion"] == "all"
        assert r["verdict"] == ("NG" if all(v["verdict"] == "NG" for v in r["views"].values()) else "OK")
