from flask import Blueprint

from app.core.api import API_PREFIX

bp = Blueprint("eco_api", __name__, url_prefix=API_PREFIX)
