"""glTF models made in code with pygltflib: the demo assembly (demo.py), the tests' and the
benchmark's generated models. Every part is a box (one shared geometry per colour, so a model
of thousands of parts stays small); a node without a box groups its children."""

import struct
from dataclasses import dataclass

from pygltflib import (
    ARRAY_BUFFER,
    ELEMENT_ARRAY_BUFFER,
    FLOAT,
    GLTF2,
    SCALAR,
    UNSIGNED_SHORT,
    VEC3,
    Accessor,
    Asset,
    Attributes,
    Buffer,
    BufferView,
    Material,
    Mesh,
    Node,
    PbrMetallicRoughness,
    Primitive,
    Scene,
)

COLOURS = (
    (0.13, 0.45, 0.23, 1.0),  # board green
    (0.15, 0.15, 0.17, 1.0),  # chip black
    (0.76, 0.60, 0.35, 1.0),  # resistor tan
    (0.20, 0.35, 0.70, 1.0),  # capacitor blue
    (0.70, 0.70, 0.72, 1.0),  # metal
)


@dataclass(frozen=True)
class Box:
    name: str
    parent: int | None = None  # index of the parent in the list, None for a root
    at: tuple[float, float, float] = (0.0, 0.0, 0.0)
    size: tuple[float, float, float] = (1.0, 1.0, 1.0)
    colour: int | None = 4  # index into COLOURS; None: a group node without geometry


def _box_geometry() -> tuple[bytes, bytes]:
    """A unit cube centred on the origin: 24 vertices (flat normals) and 36 indices."""
    positions, normals, indices = [], [], []
    for axis in range(3):
        for sign in (-1.0, 1.0):
            normal = [0.0, 0.0, 0.0]
            normal[axis] = sign
            u, v = [a for a in range(3) if a != axis]
            base = len(positions)
            for du, dv in ((-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)):
                point = [0.0, 0.0, 0.0]
                point[axis], point[u], point[v] = sign * 0.5, du, dv
                positions.append(point)
                normals.append(normal)
            quad = (0, 1, 2, 0, 2, 3) if sign > 0 else (0, 2, 1, 0, 3, 2)
            if axis == 1:  # u, v = z, x there: the other winding faces outwards
                quad = (0, 2, 1, 0, 3, 2) if sign > 0 else (0, 1, 2, 0, 2, 3)
            indices.extend(base + i for i in quad)
    vertex_bytes = b"".join(struct.pack("<3f", *p) for p in positions) + b"".join(
        struct.pack("<3f", *n) for n in normals
    )
    return vertex_bytes, struct.pack(f"<{len(indices)}H", *indices)


def glb(boxes: list[Box]) -> bytes:
    """The GLB of `boxes`: each a node named by its `name`, placed at `at` under its parent."""
    vertices, indices = _box_geometry()
    blob = vertices + indices
    model = GLTF2(
        asset=Asset(version="2.0", generator="forgeline modelgen"),
        buffers=[Buffer(byteLength=len(blob))],
        bufferViews=[
            BufferView(buffer=0, byteOffset=0, byteLength=len(vertices), target=ARRAY_BUFFER),
            BufferView(buffer=0, byteOffset=len(vertices), byteLength=len(indices), target=ELEMENT_ARRAY_BUFFER),
        ],
        accessors=[
            Accessor(
                bufferView=0, byteOffset=0, componentType=FLOAT, count=24, type=VEC3, min=[-0.5] * 3, max=[0.5] * 3
            ),
            Accessor(bufferView=0, byteOffset=24 * 12, componentType=FLOAT, count=24, type=VEC3),
            Accessor(bufferView=1, componentType=UNSIGNED_SHORT, count=36, type=SCALAR),
        ],
        materials=[
            Material(name=f"colour-{i}", pbrMetallicRoughness=PbrMetallicRoughness(baseColorFactor=list(c)))
            for i, c in enumerate(COLOURS)
        ],
        meshes=[
            Mesh(
                name=f"box-{i}",
                primitives=[Primitive(attributes=Attributes(POSITION=0, NORMAL=1), indices=2, material=i)],
            )
            for i in range(len(COLOURS))
        ],
    )
    children: dict[int, list[int]] = {}
    roots = []
    for index, box in enumerate(boxes):
        (roots if box.parent is None else children.setdefault(box.parent, [])).append(index)
    for index, box in enumerate(boxes):
        node = Node(name=box.name, translation=list(box.at), children=children.get(index, []))
        if box.colour is not None:
            node.mesh, node.scale = box.colour, list(box.size)
        model.nodes.append(node)
    model.scenes = [Scene(name="assembly", nodes=roots)]
    model.scene = 0
    model.set_binary_blob(blob)
    return b"".join(model.save_to_bytes())


def grid(count: int, prefix: str = "P") -> list[Box]:
    """`count` parts `<prefix>-00001`... in groups of 100 under one root: the benchmark's model."""
    boxes = [Box("ASSEMBLY", colour=None)]
    side = max(1, round(count ** (1 / 3)))
    for start in range(0, count, 100):
        group = len(boxes)
        boxes.append(Box(f"GROUP-{start // 100 + 1:03d}", parent=0, colour=None))
        for i in range(start, min(count, start + 100)):
            x, y, z = i % side, (i // side) % side, i // (side * side)
            boxes.append(Box(f"{prefix}-{i + 1:05d}", parent=group, at=(x * 1.5, y * 1.5, z * 1.5), colour=i % 5))
    return boxes
