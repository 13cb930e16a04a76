"""The 3D page in Chromium with WebGL really on (SwiftShader: started without --disable-gpu,
with --use-gl=angle --use-angle=swiftshader --enable-unsafe-swiftshader, as DESIGN.md says):
the model is drawn (pixels read back, not blank), a part clicked at its projected screen
position opens its item in the panel, a part picked in the tree is selected in 3D, search,
isolate and show all; a viewer's panel follows a change of the published overlay live; and a
browser without WebGL says so while the tree and the panel still work."""

import json
import urllib.request
import uuid

import pytest
from playwright.sync_api import expect

from app.overlays.modelgen import Box, glb
from tests.browser.helpers import wait_until_delivered


def _api(live_server, token: str, method: str, path: str, body=None, raw: bytes | None = None) -> dict:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    kind = "application/octet-stream" if raw is not None else "application/json"
    request = urllib.request.Request(
        f"{live_server.url}/api/v1{path}",
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": kind},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def board(live_server):
    """A published overlay on a board of five parts (one unmapped), made through the API."""
    made = live_server.flask("tokens", "create", live_server.admin.username, "--name", "overlays-3d")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    tag = uuid.uuid4().hex[:4].upper()
    names = {"board": f"BRD-{tag}", "chip": f"CHIP-{tag}", "cap": f"CAP-{tag}", "res": f"RES-{tag}"}
    for number in names.values():
        _api(live_server, token, "POST", "/items", {"number": number, "name": f"{number} part"})
    boxes = [
        Box(f"ASM-{tag}", colour=None),
        Box(names["board"], parent=0, size=(8, 0.2, 5), colour=0),
        Box(names["chip"], parent=0, at=(0, 0.6, 0), size=(2.2, 1.0, 2.2), colour=1),
        Box(names["cap"], parent=0, at=(2.8, 0.6, -1.4), size=(1.0, 1.0, 1.0), colour=3),
        Box(names["res"], parent=0, at=(-2.8, 0.4, 1.4), size=(1.2, 0.6, 0.6), colour=2),
        Box(f"BOSS-{tag}", parent=0, at=(-3.2, 0.4, -1.8), size=(0.6, 0.6, 0.6), colour=4),
    ]
    doc = _api(live_server, token, "POST", "/documents", {"number": f"MDL-{tag}", "title": "3D board"})
    _api(live_server, token, "POST", f"/cad-3d/models/{doc['id']}?filename=board.glb", raw=glb(boxes))
    _api(live_server, token, "POST", f"/cad-3d/overlays/{doc['id']}", {})
    _api(live_server, token, "POST", f"/cad-3d/overlays/{doc['id']}/map-by-name")
    note = [
        {"key": "Handling", "value": "ESD first", "roles": []},
        {"key": "Secret", "value": "x", "roles": ["engineer"]},
    ]
    entries = [{"ref": names["chip"], "item": names["chip"], "fields": note}]
    _api(live_server, token, "PUT", f"/cad-3d/overlays/{doc['id']}/entries", {"entries": entries, "replace": False})
    _api(live_server, token, "POST", f"/cad-3d/overlays/{doc['id']}/status", {"to_status": "published"})
    viewer = f"viewer-{tag.lower()}"
    created = live_server.flask("users", "create", viewer, "--role", "viewer", "--password", "viewer-password-1")
    assert created.returncode == 0, created.stderr
    overlay = _api(live_server, token, "GET", f"/cad-3d/overlays/{doc['id']}")
    return {"doc": doc, "token": token, "names": names, "boss": f"BOSS-{tag}", "viewer": viewer, "overlay": overlay}


def _sign_in(page, live_server, username: str, password: str, path: str) -> None:
    page.goto(f"{live_server.url}{path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    expect(page.locator("#viewer3d")).to_be_visible()


def test_the_model_is_drawn_picked_in_3d_and_in_the_tree_and_follows_changes(webgl_browser, live_server, board):
    context = webgl_browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    frames: list[dict] = []
    console: list[str] = []  # what the page says, for a failure's message
    page.on("console", lambda message: console.append(message.text))
    page.on("pageerror", lambda error: console.append(str(error)))
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(json.loads(payload))))
    doc, names = board["doc"], board["names"]
    _sign_in(page, live_server, board["viewer"], "viewer-password-1", f"/cad-3d/{doc['id']}")
    try:
        page.wait_for_function("window.overlay3d && window.overlay3d.ready", timeout=30_000)
    except Exception as exc:
        raise AssertionError(f"the page did not get ready: {console}") from exc
    assert page.evaluate("window.overlay3d.webgl") is True, console
    assert page.get_attribute("#viewer3d", "data-ready") == "true"
    pixels = page.evaluate("window.overlay3d.pixels()")
    assert pixels["drawn"] > 0.05 * pixels["width"] * pixels["height"], pixels  # the board fills part of the view
    assert pixels["colours"] >= 6, pixels  # shaded faces of several colours, not one flat fill

    # click the chip where it is drawn: hover highlights it, the click selects it and fills the panel
    spot = page.evaluate(f"window.overlay3d.screenPosition({json.dumps(names['chip'])})")
    page.mouse.move(spot["x"], spot["y"])
    expect(page.locator("#viewer3d")).to_have_attribute("data-hovered", names["chip"])
    page.mouse.click(spot["x"], spot["y"])
    expect(page.locator("#panel-item")).to_contain_text(names["chip"])
    expect(page.locator(f"#part-tree li[data-ref='{names['chip']}']")).to_have_class("mapped selected")
    expect(page.locator("#part-panel [data-field='Handling']")).to_contain_text("ESD first")
    expect(page.locator("#part-panel [data-field='Secret']")).to_have_count(0)  # an engineer's field

    # pick in the tree: selected in 3D too
    page.click(f"#part-tree li[data-ref='{names['cap']}'] .part-pick")
    expect(page.locator("#panel-item")).to_contain_text(names["cap"])
    assert page.evaluate("window.overlay3d.selected") == names["cap"]
    page.click(f"#part-tree li[data-ref='{board['boss']}'] .part-pick")
    expect(page.locator("#panel-unmapped")).to_be_visible()

    # search, isolate, show all
    page.fill("#part-search", names["res"].lower())
    expect(page.locator("#part-tree li:not(.filtered-out)")).to_have_count(1)
    page.press("#part-search", "Enter")
    expect(page.locator("#panel-item")).to_contain_text(names["res"])
    page.fill("#part-search", "")
    before = page.evaluate("window.overlay3d.pixels()")["drawn"]
    page.click("#isolate-part")
    expect(page.locator("#part-tree li.hidden-part")).to_have_count(4)  # board, chip, cap, boss
    assert page.evaluate("window.overlay3d.pixels()")["drawn"] != before  # the resistor alone, framed
    page.click("#show-all")
    expect(page.locator("#part-tree li.hidden-part")).to_have_count(0)
    page.click("#fit-view")
    assert page.evaluate("window.overlay3d.pixels()")["drawn"] == before

    # an engineer changes the published overlay: the viewer's open panel follows
    page.click(f"#part-tree li[data-ref='{names['chip']}'] .part-pick")
    expect(page.locator("#part-panel [data-field='Handling']")).to_contain_text("ESD first")
    wait_until_delivered(page, live_server, frames, f"overlay:{board['overlay']['id']}")
    changed = [{"key": "Handling", "value": "Gloves and ESD strap", "roles": []}]
    entries = [{"ref": names["chip"], "item": names["chip"], "fields": changed}]
    _api(
        live_server,
        board["token"],
        "PUT",
        f"/cad-3d/overlays/{doc['id']}/entries",
        {"entries": entries, "replace": False},
    )
    expect(page.locator("#part-panel [data-field='Handling']")).to_contain_text("Gloves and ESD strap")
    context.close()


def test_without_webgl_the_page_says_so_and_the_tree_and_panel_work(webgl_browser, live_server, board):
    context = webgl_browser.new_context(viewport={"width": 1366, "height": 900})
    # a browser without WebGL: no canvas hands out a WebGL context
    context.add_init_script(
        "const get = HTMLCanvasElement.prototype.getContext;"
        "HTMLCanvasElement.prototype.getContext = function (kind, ...rest) {"
        "  return /webgl/i.test(kind) ? null : get.call(this, kind, ...rest); };"
    )
    page = context.new_page()
    doc, names = board["doc"], board["names"]
    _sign_in(page, live_server, board["viewer"], "viewer-password-1", f"/cad-3d/{doc['id']}")
    expect(page.locator("#no-webgl")).to_be_visible()
    assert page.evaluate("window.overlay3d.webgl") is False
    page.click(f"#part-tree li[data-ref='{names['chip']}'] .part-pick")
    expect(page.locator("#panel-item")).to_contain_text(names["chip"])
    context.close()


def test_an_engineer_maps_an_unmapped_part_in_the_panel(webgl_browser, live_server, board):
    context = webgl_browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    doc, names = board["doc"], board["names"]
    _sign_in(page, live_server, live_server.admin.username, live_server.admin.password, f"/cad-3d/{doc['id']}")
    page.wait_for_function("window.overlay3d && window.overlay3d.ready", timeout=30_000)
    page.click(f"#part-tree li[data-ref='{board['boss']}'] .part-pick")
    expect(page.locator("#panel-unmapped")).to_be_visible()
    page.fill("#entry-form input[name=item]", "NO-SUCH-ITEM")
    page.click("#entry-save")
    expect(page.locator("#entry-error")).to_contain_text("NO-SUCH-ITEM")
    page.fill("#entry-form input[name=item]", names["res"])
    page.fill("#entry-form input[name=key]", "Torque")
    page.fill("#entry-form input[name=value]", "0.6 Nm")
    page.fill("#entry-form input[name=roles]", "operator")
    page.click("#entry-save")
    expect(page.locator("#panel-item")).to_contain_text(names["res"])
    expect(page.locator("#part-panel [data-field='Torque']")).to_contain_text("0.6 Nm")
    expect(page.locator(f"#part-tree li[data-ref='{board['boss']}']")).to_have_class("mapped selected")
    overlay = _api(live_server, board["token"], "GET", f"/cad-3d/overlays/{doc['id']}")
    boss = next(e for e in overlay["entries"] if e["ref"] == board["boss"])
    assert boss["item"] == names["res"] and boss["fields"] == [
        {"key": "Torque", "value": "0.6 Nm", "roles": ["operator"]}
    ]
    context.close()
