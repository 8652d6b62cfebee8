"""A bundle loads only as it was exported: paths are plain names inside its folder, every file is listed with
its sha256 (unlisted, missing or changed files refused), the manifest is protected by manifest.sha256, and a
bundle without views is refused. Each refusal is one BundleError sentence and one CLI error line."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "export"))
from exported_station import exported_station  # noqa: E402

from workbench.cli.main import main  # noqa: E402
from workbench.line.bundle import MANIFEST_HASH, Bundle, BundleError, sha256  # noqa: E402


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    return exported_station(tmp_path_factory.getbasetemp())


@pytest.fixture
def copy(station, tmp_path) -> Path:
    out = tmp_path / "bundle"
    shutil.copytree(station["bundle"], out)
    return out


def _edit_manifest(bundle: Path, edit, rehash: bool = True) -> None:
    """Change the manifest; with ``rehash`` its checksum is remade too (someone who knows the format)."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    edit(manifest)
    (bundle / "manifest.json").write_text(json.dumps(manifest, indent=2))
    if rehash:
        (bundle / MANIFEST_HASH).write_text(f"{sha256(bundle / 'manifest.json')}  manifest.json\n")


def test_the_exported_bundle_loads_and_its_manifest_checksum_matches(station):
    bundle = Bundle.load(station["bundle"])
    assert bundle.views
    text = (station["bundle"] / MANIFEST_HASH).read_text()
    assert text.split()[0] == hashlib.sha256((station["bundle"] / "manifest.json").read_bytes()).hexdigest()


def test_an_edited_manifest_is_reported(copy):
    _edit_manifest(copy, lambda m: m["views"][0]["policy"].update(threshold=1e9), rehash=False)
    with pytest.raises(BundleError, match="manifest.json was edited after export"):
        Bundle.load(copy)


def test_a_missing_manifest_checksum_is_refused(copy):
    (copy / MANIFEST_HASH).unlink()
    with pytest.raises(BundleError, match="manifest.sha256 is missing"):
        Bundle.load(copy)


@pytest.mark.parametrize(
    "graph", ["../../x.onnx", "/etc/x.onnx", "models/../../x.onnx", "C:/x.onnx", "models\\..\\x.onnx", ""]
)
def test_a_graph_path_that_leaves_the_bundle_is_refused(copy, tmp_path, graph):
    outside = tmp_path / "x.onnx"
    shutil.copyfile(next((copy / "models").iterdir()), outside)

    def edit(m):
        m["views"][0]["graph"] = graph
        m["files"][graph] = sha256(outside)

    _edit_manifest(copy, edit)
    with pytest.raises(
        BundleError, match="is not a plain file name inside the bundle folder|expected a file name"
    ):
        Bundle.load(copy)


def test_a_view_file_that_is_not_listed_is_refused(copy):
    name = next((copy / "models").iterdir()).name

    def edit(m):
        del m["files"][f"models/{name}"]

    _edit_manifest(copy, edit)
    with pytest.raises(BundleError, match=f"models/{name}' is not among the bundle's listed files"):
        Bundle.load(copy)


def test_an_unlisted_file_is_refused(copy):
    (copy / "models" / "extra.onnx").write_bytes(b"not exported")
    with pytest.raises(BundleError, match="file models/extra.onnx is not listed in the manifest"):
        Bundle.load(copy)


def test_a_missing_or_changed_file_is_refused(copy):
    roi = next((copy / "views").iterdir())
    data = bytearray(roi.read_bytes())
    data[-30] ^= 1
    roi.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=f"views/{roi.name} was altered"):
        Bundle.load(copy)
    roi.unlink()
    with pytest.raises(BundleError, match=f"views/{roi.name} listed in the manifest is missing"):
        Bundle.load(copy)


def test_a_bundle_without_views_is_refused(copy):
    _edit_manifest(copy, lambda m: m.update(views=[]))
    with pytest.raises(BundleError, match="the bundle has no views"):
        Bundle.load(copy)


def test_a_symlink_out_of_the_bundle_is_refused(copy, tmp_path):
    target = next((copy / "templates").iterdir())
    moved = tmp_path / "moved.png"
    shutil.move(target, moved)
    target.symlink_to(moved)
    with pytest.raises(BundleError, match="leads outside the bundle folder"):
        Bundle.load(copy)


def test_the_line_command_refuses_an_edited_bundle_in_one_line(copy, station, capsys):
    _edit_manifest(copy, lambda m: m["views"][0].update(graph="../../x.onnx"))
    code = main(["run", str(copy), "--source", str(station["video"]), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "not a plain file name inside the bundle" in err
