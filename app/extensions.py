"""Extension objects, created unbound; `create_app` binds them."""
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase

from app.errors import ErrorSchema, render_http_exception


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
migrate = Migrate()


def commit_keeping_loaded():
    """Commit the request's transaction without expiring what the session holds (the token and user
    authentication loaded, the objects this request wrote), so that nothing is re-read afterwards."""
    session = db.session()
    expire = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire


class RestApi(Api):
    ERROR_SCHEMA = ErrorSchema  # documents the one error shape on every response

    def handle_http_exception(self, error):
        """flask-smorest's own handler for the API's HTTP errors renders the one shape too."""
        return render_http_exception(error)


api = RestApi()
