from flask import Blueprint

from app.core.api import API_PREFIX

bp = Blueprint("items_api", __name__, url_prefix=API_PREFIX)
