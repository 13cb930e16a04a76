from flask import Blueprint

from app.optimization import service  # noqa: F401  (models on the metadata)

bp = Blueprint("optimization", __name__, url_prefix="/optimizations")
