from flask.cli import AppGroup

inspections_cli = AppGroup("inspections", help="Inspections: historical import.")
