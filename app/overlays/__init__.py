"""3D metadata overlays: a glTF model (a document version) read into its component refs
(gltf.py), one overlay per version mapping refs to items, BOM lines and role-filtered fields
(service.py), the component lookup with its shared Redis cache (lookup.py, cache.py) and the
three.js page (templates/overlays/, static/js/overlay3d.js)."""

from app.core.capability import ENGINEERING, Access, Capability, NavEntry

CAPABILITY = Capability(
    "overlays",
    nav=(NavEntry("3D models", "overlays.index", order=25, group=ENGINEERING),),
    # topic overlay:<id>: a viewer or operator hears of a published overlay only, as the API answers
    access=(Access("overlay", may_see="app.overlays.service.may_see"),),
)
