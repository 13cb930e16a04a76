from flask import Blueprint

from app.items import models  # noqa: F401

bp = Blueprint("items", __name__, url_prefix="/items")
