// The 3D page of a model (templates/overlays/model.html): three.js renders the glTF, orbit /
// zoom / pan with OrbitControls, "Fit" frames what is shown; hovering a part highlights it,
// clicking selects it and fills the panel from the component lookup API; the tree beside the
// canvas selects the same part (and follows a pick in 3D); search filters the tree by ref or
// item number; hide / isolate / show all; parts without an overlay entry are tinted. Without
// WebGL the page says so and the tree and the panel still work. The panel listens to the
// overlay's live topic (data-live-topic, static/js/live.js) and re-reads when it changes.
import * as THREE from "three";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";
import { GLTFLoader } from "three/addons/loaders/GLTFLoader.js";

const root = document.getElementById("viewer3d");
const canvas = document.getElementById("canvas3d");
const tree = document.getElementById("part-tree");
const panel = document.getElementById("part-panel");
const panelBody = document.getElementById("panel-body");
const panelEmpty = document.getElementById("panel-empty");
const search = document.getElementById("part-search");
const buttons = {
  fit: document.getElementById("fit-view"),
  hide: document.getElementById("hide-part"),
  isolate: document.getElementById("isolate-part"),
  showAll: document.getElementById("show-all"),
};

const HOVER = new THREE.Color(0x3b82f6);
const SELECT = new THREE.Color(0x2563eb);
const UNMAPPED = new THREE.Color(0xf59e0b);

const rows = new Map(); // ref -> <li>
tree.querySelectorAll("li[data-ref]").forEach((li) => rows.set(li.dataset.ref, li));

const state = {
  ready: false, // the model is drawn (or the page has no WebGL and runs without it)
  webgl: false,
  selected: null,
  hovered: null,
  objects: new Map(), // ref -> Object3D of the node
  meshes: new Map(), // ref -> its meshes (the node's own and its descendants')
  panelFor: null,
  panelRequest: 0,
};

// ---- panel ---------------------------------------------------------------------

function el(tag, text, attrs) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
  return node;
}

function list(title, items, render, emptyText) {
  const box = el("section");
  box.append(el("h3", title));
  if (!items.length) {
    box.append(el("p", emptyText, { class: "empty" }));
    return box;
  }
  const ul = el("ul");
  items.forEach((item) => ul.append(render(item)));
  box.append(ul);
  return box;
}

function renderPanel(found) {
  panelBody.replaceChildren();
  panelBody.append(el("h2", found.ref, { id: "panel-ref" }));
  if (!found.mapped) {
    panelBody.append(el("p", "Unmapped: no item is set for this part yet.", { class: "empty", id: "panel-unmapped" }));
  } else {
    const item = found.item;
    const head = el("p", null, { id: "panel-item" });
    head.append(el("strong", item.number), document.createTextNode(` ${item.name} · rev ${item.revision} · ${item.lifecycle}`));
    panelBody.append(head);
    panelBody.append(
      list("Fields", found.fields, (f) => {
        const li = el("li", null, { "data-field": f.key });
        li.append(el("strong", f.key + ": "), document.createTextNode(f.value));
        return li;
      }, "No fields for your role."),
      list("Used on", found.bom_lines, (l) => el("li", `${l.bom} (${l.bom_state}) · ${l.quantity} ${l.unit}` + (l.refdes ? ` · ${l.refdes}` : "") + (l.id === found.bom_line_id ? " · this line" : "")), "On no BOM."),
      list("ECOs in progress", found.ecos, (e) => el("li", `${e.number} ${e.title} · ${e.stage} · ${e.priority}`), "None."),
      list("Open incidents", found.incidents, (i) => el("li", `${i.code} · ${i.severity} · ${i.status} · ${i.description}`, { "data-incident": i.code }), "None."),
    );
  }
  if (root.dataset.entriesUrl) panelBody.append(editor(found));
  panelEmpty.hidden = true;
  panelBody.hidden = false;
}

// an engineer maps the part to an item and adds a field; the fields shown are sent back as they
// are (the server keeps those the engineer cannot see)
function editor(found) {
  const form = el("form", null, { id: "entry-form", class: "entry-form" });
  const item = el("input", null, { name: "item", required: "", maxlength: "40", placeholder: "item number", "aria-label": "Item number" });
  item.value = found.item ? found.item.number : found.ref;
  const key = el("input", null, { name: "key", maxlength: "80", placeholder: "new field", "aria-label": "Field" });
  const value = el("input", null, { name: "value", maxlength: "2000", placeholder: "value", "aria-label": "Value" });
  const roles = el("input", null, { name: "roles", placeholder: "roles (empty: all)", "aria-label": "Roles" });
  const save = el("button", found.mapped ? "Save" : "Map", { type: "submit", id: "entry-save" });
  const said = el("p", null, { class: "field-error", id: "entry-error", hidden: "" });
  form.append(el("h3", found.mapped ? "Edit" : "Map this part"), item, key, value, roles, save, said);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const fields = found.fields.map((f) => ({ key: f.key, value: f.value, roles: f.roles }));
    if (key.value.trim()) {
      fields.push({ key: key.value.trim(), value: value.value, roles: roles.value.split(/[\s,]+/).filter(Boolean) });
    }
    save.disabled = true;
    const response = await fetch(root.dataset.entriesUrl, {
      method: "PUT",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": document.querySelector("meta[name=csrf-token]").content,
      },
      body: JSON.stringify({ replace: false, entries: [{ ref: found.ref, item: item.value.trim(), fields }] }),
    });
    save.disabled = false;
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      said.textContent = body.error ? body.error.message : `Error ${response.status}`;
      said.hidden = false;
      return;
    }
    const li = rows.get(found.ref);
    if (li) {
      li.dataset.item = item.value.trim();
      li.classList.replace("unmapped", "mapped");
    }
    (state.meshes.get(found.ref) || []).forEach((mesh) => { if (mesh.userData.base) mesh.material.color.copy(mesh.userData.base); });
    draw();
    loadPanel(found.ref);
  });
  return form;
}

function renderPanelError(ref, message) {
  panelBody.replaceChildren(el("h2", ref, { id: "panel-ref" }), el("p", message, { class: "empty", id: "panel-error" }));
  panelEmpty.hidden = true;
  panelBody.hidden = false;
}

async function loadPanel(ref) {
  const ask = ++state.panelRequest;
  state.panelFor = ref;
  panel.setAttribute("aria-busy", "true");
  const url = root.dataset.lookupUrl.replace("REF", encodeURIComponent(ref));
  try {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    const body = await response.json();
    if (ask !== state.panelRequest) return;
    if (response.ok) renderPanel(body);
    else renderPanelError(ref, body.error ? body.error.message : `Error ${response.status}`);
  } catch (error) {
    if (ask === state.panelRequest) renderPanelError(ref, "The lookup did not answer; try again.");
  } finally {
    if (ask === state.panelRequest) {
      panel.removeAttribute("aria-busy");
      panel.dataset.loadedRef = ref;
    }
  }
}

// the overlay changed (published, entries saved): re-read the part shown
panel.addEventListener("live", () => {
  if (state.panelFor) loadPanel(state.panelFor);
});
document.addEventListener("forgeline:subscribed", () => {
  if (state.panelFor) loadPanel(state.panelFor);
});

// ---- selection -------------------------------------------------------------------

function paint(ref) {
  (state.meshes.get(ref) || []).forEach((mesh) => {
    const m = mesh.material;
    if (!m || !m.emissive) return;
    if (ref === state.selected) m.emissive.copy(SELECT).multiplyScalar(0.55);
    else if (ref === state.hovered) m.emissive.copy(HOVER).multiplyScalar(0.35);
    else m.emissive.setRGB(0, 0, 0);
  });
}

function select(ref, { fromTree = false } = {}) {
  const before = state.selected;
  state.selected = ref;
  if (before) paint(before);
  if (ref) paint(ref);
  rows.forEach((li, r) => li.classList.toggle("selected", r === ref));
  buttons.hide.disabled = buttons.isolate.disabled = !ref;
  if (!ref) return;
  const li = rows.get(ref);
  if (li && !fromTree) li.scrollIntoView({ block: "nearest" });
  root.dataset.selected = ref;
  loadPanel(ref);
  draw();
}

tree.addEventListener("click", (event) => {
  const li = event.target.closest("li[data-ref]");
  if (li) select(li.dataset.ref, { fromTree: true });
});

search.addEventListener("input", () => {
  const q = search.value.trim().toLowerCase();
  rows.forEach((li, ref) => {
    const hit = !q || ref.toLowerCase().includes(q) || (li.dataset.item || "").toLowerCase().includes(q);
    li.classList.toggle("filtered-out", !hit);
  });
});
search.addEventListener("keydown", (event) => {
  if (event.key !== "Enter") return;
  event.preventDefault();
  const first = Array.from(rows.values()).find((li) => !li.classList.contains("filtered-out"));
  if (first) select(first.dataset.ref);
});

// ---- 3D ------------------------------------------------------------------------

function hasWebGL() {
  try {
    const probe = document.createElement("canvas");
    return Boolean(probe.getContext("webgl2") || probe.getContext("webgl"));
  } catch (error) {
    return false;
  }
}

let renderer, scene, camera, controls;
const raycaster = new THREE.Raycaster();
const pointer = new THREE.Vector2();

function draw() {
  if (renderer) renderer.render(scene, camera);
}

function resize() {
  const width = canvas.clientWidth, height = canvas.clientHeight;
  if (!width || !height) return;
  renderer.setSize(width, height, false);
  camera.aspect = width / height;
  camera.updateProjectionMatrix();
  draw();
}

function shownMeshes() {
  const shown = [];
  state.meshes.forEach((meshes) => meshes.forEach((m) => { if (isShown(m)) shown.push(m); }));
  return shown;
}

function isShown(object) {
  for (let o = object; o; o = o.parent) if (!o.visible) return false;
  return true;
}

function fit() {
  const box = new THREE.Box3();
  shownMeshes().forEach((m) => box.expandByObject(m));
  if (box.isEmpty()) return;
  const size = box.getSize(new THREE.Vector3()).length();
  const centre = box.getCenter(new THREE.Vector3());
  const distance = size / (2 * Math.tan((camera.fov * Math.PI) / 360)) * 1.1;
  const direction = new THREE.Vector3(0.6, 0.9, 1.1).normalize();
  camera.position.copy(centre).addScaledVector(direction, distance);
  camera.near = Math.max(distance / 100, 0.001);
  camera.far = distance * 100;
  camera.updateProjectionMatrix();
  controls.target.copy(centre);
  controls.update();
  draw();
}

function refAt(clientX, clientY) {
  const rect = canvas.getBoundingClientRect();
  pointer.set(((clientX - rect.left) / rect.width) * 2 - 1, -((clientY - rect.top) / rect.height) * 2 + 1);
  raycaster.setFromCamera(pointer, camera);
  const hit = raycaster.intersectObjects(shownMeshes(), false)[0];
  return hit ? hit.object.userData.ref : null;
}

function setHidden(ref, hidden) {
  const object = state.objects.get(ref);
  if (object) object.visible = !hidden;
  const li = rows.get(ref);
  if (li) li.classList.toggle("hidden-part", hidden);
}

function index(gltf) {
  const byNode = new Map();
  gltf.scene.traverse((object) => {
    const association = gltf.parser.associations.get(object);
    if (association && association.nodes !== undefined) byNode.set(association.nodes, object);
  });
  rows.forEach((li, ref) => {
    const object = byNode.get(Number(li.dataset.node));
    if (!object) return;
    state.objects.set(ref, object);
  });
  // each mesh belongs to the nearest part above it; its material is its own, to tint and light it alone
  const owners = new Set(state.objects.values());
  state.objects.forEach((object, ref) => {
    const own = [];
    object.traverse((child) => {
      if (!child.isMesh) return;
      let owner = child;
      while (owner && !owners.has(owner)) owner = owner.parent;
      if (owner !== object) return;
      child.material = child.material.clone();
      child.userData.ref = ref;
      child.userData.base = child.material.color.clone();
      if (!rows.get(ref).dataset.item) child.material.color.lerp(UNMAPPED, 0.65);
      own.push(child);
    });
    state.meshes.set(ref, own);
  });
}

function startWebGL() {
  renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true });
  renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
  renderer.setClearColor(0xf4f6fa, 1);
  scene = new THREE.Scene();
  camera = new THREE.PerspectiveCamera(45, 1, 0.1, 1000);
  scene.add(new THREE.HemisphereLight(0xffffff, 0x667788, 2.2));
  const sun = new THREE.DirectionalLight(0xffffff, 1.6);
  sun.position.set(5, 10, 7);
  scene.add(sun);
  controls = new OrbitControls(camera, canvas);
  controls.addEventListener("change", draw);
  new ResizeObserver(resize).observe(canvas);
  resize();

  let down = null;
  canvas.addEventListener("pointerdown", (e) => { down = { x: e.clientX, y: e.clientY }; });
  canvas.addEventListener("pointerup", (e) => {
    if (!down || Math.hypot(e.clientX - down.x, e.clientY - down.y) > 4) return;
    const ref = refAt(e.clientX, e.clientY);
    if (ref) select(ref);
  });
  canvas.addEventListener("pointermove", (e) => {
    const ref = refAt(e.clientX, e.clientY);
    if (ref === state.hovered) return;
    const before = state.hovered;
    state.hovered = ref;
    if (before) paint(before);
    if (ref) paint(ref);
    canvas.style.cursor = ref ? "pointer" : "";
    root.dataset.hovered = ref || "";
    draw();
  });

  new GLTFLoader().load(
    root.dataset.modelUrl,
    (gltf) => {
      scene.add(gltf.scene);
      index(gltf);
      fit();
      state.ready = true;
      root.dataset.ready = "true";
    },
    undefined,
    (error) => {
      const box = document.getElementById("load-error");
      box.textContent = "The model could not be loaded: " + (error && error.message ? error.message : error);
      box.hidden = false;
      state.ready = true;
      root.dataset.ready = "error";
    },
  );
}

buttons.fit.addEventListener("click", () => { if (renderer) fit(); });
buttons.hide.addEventListener("click", () => {
  if (!state.selected) return;
  setHidden(state.selected, true);
  draw();
});
buttons.isolate.addEventListener("click", () => {
  if (!state.selected) return;
  const keep = new Set([state.selected]);
  // its parents stay shown (a hidden group hides what is under it), and what is under it
  for (let li = rows.get(state.selected); li && li.dataset.parent; li = rows.get(li.dataset.parent)) keep.add(li.dataset.parent);
  rows.forEach((li, ref) => {
    for (let up = li; up; up = rows.get(up.dataset.parent)) if (up.dataset.ref === state.selected) keep.add(ref);
  });
  rows.forEach((li, ref) => setHidden(ref, !keep.has(ref)));
  if (renderer) fit();
});
buttons.showAll.addEventListener("click", () => {
  rows.forEach((li, ref) => setHidden(ref, false));
  draw();
});

// what tests (and the curious) can ask of the page
window.overlay3d = {
  get ready() { return state.ready; },
  get webgl() { return state.webgl; },
  get selected() { return state.selected; },
  select: (ref) => select(ref),
  // the client coordinates of a part's centre as drawn now, or null when it is not drawn
  screenPosition(ref) {
    const meshes = state.meshes.get(ref);
    if (!renderer || !meshes || !meshes.length) return null;
    const box = new THREE.Box3();
    meshes.forEach((m) => box.expandByObject(m));
    const p = box.getCenter(new THREE.Vector3()).project(camera);
    const rect = canvas.getBoundingClientRect();
    return { x: rect.left + ((p.x + 1) / 2) * rect.width, y: rect.top + ((1 - p.y) / 2) * rect.height };
  },
  // pixels read back from the drawing buffer: how many differ from the background, distinct colours
  pixels() {
    if (!renderer) return null;
    draw();
    const gl = renderer.getContext();
    const w = gl.drawingBufferWidth, h = gl.drawingBufferHeight;
    const data = new Uint8Array(w * h * 4);
    gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, data);
    let drawn = 0;
    const colours = new Set();
    for (let i = 0; i < data.length; i += 4) {
      if (Math.abs(data[i] - 0xf4) + Math.abs(data[i + 1] - 0xf6) + Math.abs(data[i + 2] - 0xfa) > 24) drawn++;
      colours.add((data[i] >> 4) * 256 + (data[i + 1] >> 4) * 16 + (data[i + 2] >> 4));
    }
    return { width: w, height: h, drawn, colours: colours.size };
  },
};

if (hasWebGL()) {
  state.webgl = true;
  try {
    startWebGL();
  } catch (error) {
    state.webgl = false;
  }
}
if (!state.webgl) {
  canvas.hidden = true;
  document.getElementById("no-webgl").hidden = false;
  buttons.fit.disabled = true;
  state.ready = true;
  root.dataset.ready = "no-webgl";
}
