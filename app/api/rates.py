from flask_smorest import Blueprint

blp = Blueprint("rates", __name__, url_prefix="/api/v1")
