from flask.cli import AppGroup

rates_cli = AppGroup("rates", help="Rates reports.")
