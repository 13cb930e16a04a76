"""Layout of a flow for the server-rendered SVG: routines in columns by their
distance from a source, connections as curves from event to slot, each event
named once."""

from typing import Any

NODE_W, NODE_H, BAR_H = 180, 64, 14
COL_GAP, ROW_GAP, MARGIN = 90, 36, 20


def layout(description: dict[str, Any]) -> dict[str, Any]:
    routines = {r["id"]: r for r in description["routines"]}
    incoming: dict[str, set[str]] = {rid: set() for rid in routines}
    for c in description["connections"]:
        incoming[c["target"]].add(c["source"])
    depth: dict[str, int] = {}

    def depth_of(rid: str, seen: frozenset = frozenset()) -> int:
        if rid not in depth:
            parents = [p for p in incoming[rid] if p not in seen]
            depth[rid] = 1 + max((depth_of(p, seen | {rid}) for p in parents), default=-1)
        return depth[rid]

    columns: dict[int, list[str]] = {}
    for rid in routines:
        columns.setdefault(depth_of(rid), []).append(rid)
    nodes, position = [], {}
    for col, ids in sorted(columns.items()):
        y = MARGIN
        for rid in ids:
            slots = routines[rid]["slots"]
            height = NODE_H + BAR_H * len(slots)
            x = MARGIN + col * (NODE_W + COL_GAP)
            position[rid] = (x, y, height)
            nodes.append(
                {
                    "id": rid,
                    "type": routines[rid]["type"],
                    "x": x,
                    "y": y,
                    "w": NODE_W,
                    "h": height,
                    "policy": routines[rid]["policy"]["type"],
                    "slots": [{"name": s["name"], "y": y + NODE_H + i * BAR_H - 4} for i, s in enumerate(slots)],
                }
            )
            y += height + ROW_GAP
    edges, labelled = [], set()
    for c in description["connections"]:
        sx, sy, sh = position[c["source"]]
        tx, ty, _ = position[c["target"]]
        slot_index = [s["name"] for s in routines[c["target"]]["slots"]].index(c["slot"])
        x1, y1 = sx + NODE_W, sy + sh / 2
        x2, y2 = tx, ty + NODE_H + slot_index * BAR_H + 2
        bend = max(40, abs(x2 - x1) / 2)
        # the event's name once, on its first edge (a fan-out to eight slots is one label, not eight);
        # the slot's name is already beside its bar in the target node
        label = "" if (c["source"], c["event"]) in labelled else c["event"]
        labelled.add((c["source"], c["event"]))
        edges.append(
            {
                "path": f"M{x1},{y1} C{x1 + bend},{y1} {x2 - bend},{y2} {x2},{y2}",
                "label": label,
                "lx": (x1 + x2) / 2,
                "ly": (y1 + y2) / 2 - 4,
            }
        )
    width = MARGIN * 2 + (max(columns) + 1) * NODE_W + max(columns) * COL_GAP if columns else 200
    height = max((y + h for _, y, h in position.values()), default=100) + MARGIN
    return {"width": width, "height": height, "nodes": nodes, "edges": edges, "bar_width": NODE_W - 70}
