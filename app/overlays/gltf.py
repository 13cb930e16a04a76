"""Reading a glTF 2.0 model's node tree with pygltflib: the component refs a model contains.

A `.glb` is checked before pygltflib reads it (the header's magic, version and length against
the bytes received, each chunk inside the file, the JSON chunk first), since pygltflib reads a
truncated file without complaint; a `.gltf` must be JSON with `asset.version` 2.x and its
buffers embedded (`data:` URIs), as the browser loads the model from one URL. Every node index
(scene roots, children) must be in range and the tree acyclic. Any refusal is a 422 naming the
field `file`.

A component ref is the node's name; an unnamed node is `node-<index>`, and a name met again
(in the order the tree is walked) gets `~2`, `~3`... so every ref names one node.
"""

import json
import struct
import warnings
from dataclasses import dataclass, fields

from pygltflib import GLTF2, Node

from app.core.errors import InvalidInput
from app.core.validation import invalid

GLB_MAGIC = b"glTF"
CHUNK_JSON, CHUNK_BIN = 0x4E4F534A, 0x004E4942
MAX_REF = 200  # a ref is a URL part and a column of String(200)
MAX_NODES = 50_000
NODE_FIELDS = frozenset(f.name for f in fields(Node))


@dataclass(frozen=True)
class Part:
    ref: str
    name: str  # the node's own name ("" when it has none)
    parent: str | None  # the ref of the parent node, None for a scene root
    node: int  # index of the node in the file
    has_mesh: bool
    depth: int


def refused(message: str, **more) -> InvalidInput:
    error = invalid("file", message, **more)
    error.code = "invalid_model"
    return error


def is_model(filename: str) -> bool:
    return filename.lower().endswith((".glb", ".gltf"))


def _glb_json(data: bytes) -> bytes:
    if len(data) < 20:
        raise refused("The file is too short to be a GLB (binary glTF).")
    magic, version, length = data[:4], *struct.unpack("<II", data[4:12])
    if magic != GLB_MAGIC:
        raise refused("The file is not glTF: a .glb starts with 'glTF', a .gltf is JSON.")
    if version != 2:
        raise refused(f"Only glTF 2.0 is read; this GLB is version {version}.")
    if length != len(data):
        raise refused(f"The GLB is truncated or padded: its header says {length} bytes, the file has {len(data)}.")
    index, chunks = 12, []
    while index < length:
        if index + 8 > length:
            raise refused("The GLB ends inside a chunk header.")
        chunk_length, chunk_type = struct.unpack("<II", data[index : index + 8])
        if index + 8 + chunk_length > length:
            raise refused("The GLB is truncated: a chunk runs past the end of the file.")
        chunks.append((chunk_type, index + 8, chunk_length))
        index += 8 + chunk_length
    if not chunks or chunks[0][0] != CHUNK_JSON:
        raise refused("The GLB has no JSON chunk first.")
    _, start, size = chunks[0]
    return data[start : start + size]


def _load(data: bytes, filename: str) -> GLTF2:
    binary = data[:4] == GLB_MAGIC or filename.lower().endswith(".glb")
    raw = _glb_json(data) if binary else data
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise refused("The model's JSON cannot be read: the file is not glTF or it is damaged.") from None
    if not isinstance(document, dict) or not isinstance(document.get("asset"), dict):
        raise refused("The model has no 'asset' object: it is not glTF.")
    if not str(document["asset"].get("version", "")).startswith("2."):
        raise refused(f"Only glTF 2.0 is read; this file says version {document['asset'].get('version')!r}.")
    if not binary:
        for buffer in document.get("buffers") or []:
            uri = buffer.get("uri") if isinstance(buffer, dict) else None
            if uri is not None and not str(uri).startswith("data:"):
                raise refused(
                    "A .gltf must embed its buffers (data: URIs); upload a .glb for a model of several files."
                )
    nodes = document.pop("nodes", None) or []
    if not isinstance(nodes, list) or not all(isinstance(n, dict) for n in nodes):
        raise refused("The model's 'nodes' is not a list of objects.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = GLTF2.from_dict(document)
            # pygltflib's own mapping (dataclasses-json) reads about 1,500 nodes a second: the nodes,
            # thousands in an assembly, are made directly, with the fields its Node declares
            model.nodes = [Node(**{k: v for k, v in n.items() if k in NODE_FIELDS}) for n in nodes]
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:  # a damaged file
        raise refused(f"The model cannot be read: {type(exc).__name__}.") from None
    return model


def _tree(model: GLTF2) -> tuple[list[list[int]], list[int]]:
    """Each node's children and the roots to walk from, every index checked."""
    nodes = model.nodes or []
    if len(nodes) > MAX_NODES:
        raise refused(f"The model has {len(nodes)} nodes; at most {MAX_NODES} are read.")
    count = len(nodes)

    def index(value, where: str) -> int:
        if not isinstance(value, int) or not 0 <= value < count:
            raise refused(f"{where} names node {value!r}, which the model does not have.")
        return value

    if any(not isinstance(node.children or [], list) for node in nodes):
        raise refused("A node's 'children' is not a list of node indexes.")
    children = [[index(c, f"Node {i}") for c in (node.children or [])] for i, node in enumerate(nodes)]
    scenes = model.scenes or []
    if scenes:
        chosen = model.scene if isinstance(model.scene, int) and 0 <= model.scene < len(scenes) else 0
        return children, [index(n, "The scene") for n in (scenes[chosen].nodes or [])]
    has_parent = {c for each in children for c in each}
    return children, [i for i in range(count) if i not in has_parent]


def parts(data: bytes, filename: str = "model.glb") -> list[Part]:
    """The components of the model, walked depth first from the default scene's roots (every
    root node when the file names no scene)."""
    model = _load(data, filename)
    nodes = model.nodes or []
    children, roots = _tree(model)
    found: list[Part] = []
    seen: set[int] = set()
    used: dict[str, int] = {}  # ref -> the last suffix given to a name met again
    stack = [(root, None, 0) for root in reversed(roots)]
    while stack:
        node_index, parent, depth = stack.pop()
        if node_index in seen:
            raise refused(f"Node {node_index} appears twice in the tree (a cycle or a shared child).")
        seen.add(node_index)
        node = nodes[node_index]
        name = node.name if isinstance(node.name, str) else ""
        if "\x00" in name or len(name) > MAX_REF - 6:
            raise refused(f"Node {node_index}'s name is longer than {MAX_REF - 6} characters or holds NUL.")
        base = ref = name.strip() or f"node-{node_index}"
        while ref in used:
            used[base] += 1
            ref = f"{base}~{used[base]}"
        used.setdefault(ref, 1)
        found.append(Part(ref, name, parent, node_index, node.mesh is not None, depth))
        stack.extend((child, ref, depth + 1) for child in reversed(children[node_index]))
    if not found:
        raise refused("The model has no nodes: there is nothing to overlay.")
    return found
