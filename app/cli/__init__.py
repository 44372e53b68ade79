"""`flask ...` command groups (DESIGN §5.1)."""
from app.cli.demo import demo_cli
from app.cli.divisions import divisions_cli
from app.cli.inspections import inspections_cli
from app.cli.jobs import jobs_cli
from app.cli.photos import photos_cli
from app.cli.rates import rates_cli
from app.cli.users import users_cli
from app.cli.webhooks import webhooks_cli

COMMAND_GROUPS = [divisions_cli, users_cli, demo_cli, inspections_cli, rates_cli, webhooks_cli, photos_cli, jobs_cli]
