"""The test modules share helpers through tests/factories.py and tests/photos.py only: none imports
another test module or conftest (a helper living in a test module runs that module's imports and
hides what the test depends on). tests/e2e has its own conftest and is not checked here.
"""
import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def imported_modules(path):
    """Every module `path` imports, also inside functions, as dotted names."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def is_forbidden(module):
    parts = module.split(".")
    return parts[0] == "tests" and len(parts) > 1 and (parts[1] == "conftest" or parts[1].startswith("test_"))


def test_no_test_module_imports_another_test_module_or_conftest():
    offenders = sorted({f"{path.name} imports {'.'.join(module.split('.')[:2])}"
                        for path in TESTS.glob("*.py") if path.name != "conftest.py"
                        for module in imported_modules(path) if is_forbidden(module)})
    assert offenders == [], "import shared helpers from tests.factories or tests.photos:\n" + "\n".join(offenders)


def test_the_check_sees_what_it_forbids(tmp_path):
    sample = tmp_path / "test_sample.py"
    sample.write_text("from tests.conftest import sql\n"
                      "def f():\n    from tests.test_photos import upload\n"
                      "import tests.test_flags\n"
                      "from tests import factories\nfrom tests.photos import jpeg_bytes\n")
    assert sorted(m for m in imported_modules(sample) if is_forbidden(m)) == [
        "tests.conftest", "tests.conftest.sql", "tests.test_flags", "tests.test_photos", "tests.test_photos.upload"]
