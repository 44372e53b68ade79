"""One blueprint per resource, all under /api/v1."""
from app.api import admin_imports, auth, device_keys, divisions, health, inspections, photos, rates, reviews, users, villages, webhook_endpoints

BLUEPRINTS = [health.blp, auth.blp, divisions.blp, photos.blp, inspections.blp, reviews.blp, rates.blp,
              device_keys.blp, villages.blp, users.blp,
              admin_imports.blp, webhook_endpoints.blp]
