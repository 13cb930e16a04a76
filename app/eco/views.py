from flask import Blueprint

from app.eco import models  # noqa: F401

bp = Blueprint("eco", __name__, url_prefix="/ecos")
