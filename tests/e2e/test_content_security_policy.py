"""The web client and the API docs page render in Chromium under the Content-Security-Policy
(app/security.py) without a single violation."""
import io
from pathlib import Path

import pytest
from PIL import Image

from app.extensions import db
from app.models import Photo
from app.storage import photo_key
from tests.factories import create_inspection

pytestmark = pytest.mark.browser

TOWNSHIP = "230382100"


def watch_csp(page):
    """Collect the page's CSP violations: the DOM events and Chromium's console reports."""
    seen = []
    page.add_init_script("""
      window.__csp = [];
      document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(
        `${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber} ${e.sample}`));
    """)
    page.on("console", lambda m: seen.append(m.text) if "Content Security Policy" in m.text else None)
    return lambda: seen + page.evaluate("window.__csp")


def inspection_with_photo(app, user, village):
    """A submitted inspection whose photo has real bytes in the store (its thumbnail is shown)."""
    made = create_inspection(app, village=village, inspector_id=user.id, photos=["garbage"])
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (90, 140, 60)).save(out, "JPEG")
    with app.app_context():
        sha256 = db.session.get(Photo, made.photo_ids[0]).sha256
    for variant in ("original", "display", "thumb"):
        path = Path(app.config["PHOTO_ROOT"]) / photo_key(sha256, variant)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(out.getvalue())


def log_in(page, user):
    page.goto("/")
    page.get_by_label("用户名").fill(user.username)
    page.get_by_label("密码").fill(user.password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_selector("#logout")


def test_the_docs_page_renders_under_the_policy(new_context):
    page = new_context().new_page()
    violations = watch_csp(page)
    response = page.goto("/api/v1/docs")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    page.wait_for_selector(".opblock-tag")  # Swagger UI has drawn the operations
    page.locator(".opblock-summary").first.click()  # an operation opens (rendered styles, examples)
    page.wait_for_selector(".opblock-body")
    page.wait_for_timeout(300)
    assert violations() == []


def open_page(new_context, user, route):
    page = new_context(viewport={"width": 1280, "height": 900}).new_page()
    violations = watch_csp(page)
    if user is None:
        page.goto(route)
    else:
        log_in(page, user)
        page.goto(route)
    return page, violations


def test_the_web_client_renders_under_the_policy(database, make_user, new_context):
    reviewer = make_user("reviewer", TOWNSHIP)
    bureau = make_user("bureau", "2303")
    inspector = make_user("inspector", TOWNSHIP)
    inspection_with_photo(database, inspector, "230382100200")  # the queue shows its thumbnail (a blob: URL)
    create_inspection(database, village="230382100201", status="approved", garbage_stable=True, village_clean=True)
    seen = {}

    page, violations = open_page(new_context, None, "/")  # the login form, the service worker
    page.get_by_label("用户名").wait_for()
    page.wait_for_load_state("networkidle")
    seen["login"] = violations()

    page, violations = open_page(new_context, inspector, "/#/inspect")
    page.locator("#main fieldset, #main form").first.wait_for()
    page.wait_for_load_state("networkidle")
    seen["inspect"] = violations()

    page, violations = open_page(new_context, reviewer, "/#/review")  # thumbnails and the photo viewer
    page.wait_for_function("() => [...document.querySelectorAll('.thumbs img')].some((i) => i.complete && i.naturalWidth)")
    page.locator(".review-item .thumbs button").first.click()
    page.wait_for_function("() => document.querySelector('#photo-viewer img')?.naturalWidth > 0")
    seen["review"] = violations()

    page, violations = open_page(new_context, bureau, "/#/rates")  # the table, Leaflet's map, uPlot's chart
    page.locator("#map path.leaflet-interactive").first.wait_for()
    page.locator("#trend-chart canvas").wait_for()
    page.locator("#map .legend, .legend").first.wait_for()
    page.wait_for_load_state("networkidle")
    seen["rates"] = violations()

    assert {name: found for name, found in seen.items() if found} == {}
