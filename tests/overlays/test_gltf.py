"""Reading a model's node tree: refs from names (unnamed and repeated ones made unique), and
every kind of bad file refused as a 422 naming the field `file`."""

import json
import struct

import pytest

from app.core.errors import InvalidInput
from app.overlays import gltf
from app.overlays.modelgen import Box, glb, grid
from tests.overlays.factory import BOARD, REFS


def test_the_node_tree_becomes_refs_with_parents():
    parts = gltf.parts(glb(BOARD))
    assert [p.ref for p in parts] == REFS
    assert {p.ref: p.parent for p in parts}["R-8~2"] == "PCA-8"
    assert [p.has_mesh for p in parts] == [False, True, True, True, True, True, True]


def test_unnamed_and_repeated_names_get_refs_of_their_own():
    boxes = [Box("A", colour=None), Box("B", parent=0), Box("B~2", parent=0), Box("B", parent=0), Box("", parent=1)]
    assert [p.ref for p in gltf.parts(glb(boxes))] == ["A", "B", "node-4", "B~2", "B~3"]


def _gltf_json(document: dict) -> bytes:
    return json.dumps(document).encode()


def _glb_with_json(document: dict) -> bytes:
    body = json.dumps(document).encode()
    body += b" " * (-len(body) % 4)
    return b"glTF" + struct.pack("<II", 2, 20 + len(body)) + struct.pack("<II", len(body), gltf.CHUNK_JSON) + body


GOOD = {
    "asset": {"version": "2.0"},
    "nodes": [{"name": "A", "children": [1]}, {"name": "B"}],
    "scenes": [{"nodes": [0]}],
}


def test_a_gltf_json_file_is_read():
    assert [p.ref for p in gltf.parts(_gltf_json(GOOD), "m.gltf")] == ["A", "B"]


@pytest.mark.parametrize(
    ("data", "filename", "says"),
    [
        (b"PK\x03\x04 a zip file, not a model at all", "m.glb", "not glTF"),
        (b"hello", "m.glb", "too short"),
        (glb(BOARD)[:-24], "m.glb", "truncated"),
        (glb(BOARD)[:400], "m.glb", "truncated"),
        (b"glTF" + struct.pack("<II", 1, 20) + b"\0" * 8, "m.glb", "version 1"),
        (b"{not json", "m.gltf", "JSON"),
        (_gltf_json({"nodes": []}), "m.gltf", "asset"),
        (_gltf_json({"asset": {"version": "1.0"}}), "m.gltf", "2.0"),
        (_gltf_json({**GOOD, "buffers": [{"uri": "parts.bin", "byteLength": 4}]}), "m.gltf", "embed"),
        (_glb_with_json({**GOOD, "nodes": [{"name": "A", "children": [7]}]}), "m.glb", "node 7"),
        (_glb_with_json({**GOOD, "nodes": [{"name": "A", "children": [0]}]}), "m.glb", "twice"),
        (_glb_with_json({**GOOD, "nodes": [{"name": "A", "children": "x"}]}), "m.glb", "children"),
        (_glb_with_json({**GOOD, "scenes": "x"}), "m.glb", "cannot be read"),
        (_glb_with_json({**GOOD, "nodes": "x"}), "m.glb", "list"),
        (_glb_with_json({"asset": {"version": "2.0"}}), "m.glb", "no nodes"),
        (_glb_with_json({**GOOD, "nodes": [{"name": "N" * 300}]}), "m.glb", "longer"),
    ],
)
def test_bad_files_are_refused_naming_the_file(data, filename, says):
    with pytest.raises(InvalidInput) as refused:
        gltf.parts(data, filename)
    assert refused.value.code == "invalid_model"
    assert refused.value.details["field"] == "file"
    assert says in refused.value.message


def test_a_model_of_five_thousand_parts_is_read():
    parts = gltf.parts(glb(grid(5000)))
    assert sum(p.has_mesh for p in parts) == 5000 and parts[-1].ref == "P-05000"
