"""The web client's built-in files, without a database or a browser: the offline copy of the
checklist is exactly the server's document, and the service worker precaches every client file.

Run as a module (`python -m tests.test_client_checklist`) to write the built-in copy afresh from
`app.domain.checklist_document()`.
"""
import json
import re
from pathlib import Path

from app.domain import checklist_document

STATIC = Path(__file__).resolve().parents[1] / "static"
CHECKLIST_JS = STATIC / "client" / "checklist-data.js"
SERVICE_WORKER = STATIC / "sw.js"
DECLARATION = "export const CHECKLIST_DOCUMENT = "
HEADER = """// The built-in copy of the checklist: exactly what GET /api/v1/checklist answers
// (app.domain.checklist_document()), used when the server's copy was never fetched on this device.
// tests/test_client_checklist.py fails when it differs from the server's; to refresh it, run
//   python -m tests.test_client_checklist
"""


def render_checklist_js():
    """The text of static/client/checklist-data.js for the current checklist."""
    return f"{HEADER}{DECLARATION}{json.dumps(checklist_document(), ensure_ascii=False, indent=2)};\n"


def built_in_checklist():
    """The JSON object the client's built-in copy declares."""
    text = CHECKLIST_JS.read_text(encoding="utf-8")
    match = re.search(rf"^{re.escape(DECLARATION)}(\{{.*\}});\s*\Z", text, re.M | re.S)
    assert match, f"{CHECKLIST_JS.name} must end with `{DECLARATION}{{...JSON...}};`"
    return json.loads(match.group(1))


def test_built_in_checklist_is_the_servers_document():
    served = json.loads(json.dumps(checklist_document()))  # as GET /api/v1/checklist sends it
    assert built_in_checklist() == served, (
        f"{CHECKLIST_JS} differs from app.domain.checklist_document(): "
        "run `python -m tests.test_client_checklist` to refresh it")


def test_service_worker_precaches_every_client_file():
    shell = set(re.findall(r'"(/static/client/[^"]+)"', SERVICE_WORKER.read_text(encoding="utf-8")))
    files = {f"/static/{p.relative_to(STATIC).as_posix()}" for p in (STATIC / "client").rglob("*") if p.is_file()}
    assert shell == files


if __name__ == "__main__":
    CHECKLIST_JS.write_text(render_checklist_js(), encoding="utf-8")
    print(f"wrote {CHECKLIST_JS}")
