"""The architecture holds: app/ imports only downwards, and its import graph has no loop.

Every import counts, also the ones inside functions (a late import hides a loop, it does not
remove it). The layers, lowest first::

    domain                         rules as data
    errors                         the one error shape
    extensions                     unbound extension objects
    geo, inputs, serving           geometry; what any request body may hold; request hooks and
                                   the embedded server that keep slow and hostile clients cheap
    models, database, storage      tables; engines; the photo store
    access                         who may see what
    auth                           who is calling
    services | schemas             the rules that need the database | the shapes of requests
    api, cli, web, demo            HTTP views, commands, pages; the demo drives the API's path
    app (the factory)

A module may import from a lower layer and from its own package; services and schemas never
import each other.
"""
import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app"

LAYERS = [
    {"app.domain"},
    {"app.errors"},
    {"app.extensions"},
    {"app.jobs"},
    {"app.geo", "app.inputs", "app.serving", "app.observability"},
    {"app.models", "app.database", "app.storage"},
    {"app.access"},
    {"app.auth"},
    {"app.services", "app.schemas"},
    {"app.api", "app.cli", "app.web", "app.demo"},
    {"app"},
]


def module_name(path):
    parts = list(path.relative_to(APP.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path):
    """The app.* modules that `path` imports, wherever in the file the import stands."""
    found = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("app"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + [base]).strip(".")
            if base == "app" or base.startswith("app."):
                # `from app import models` imports the module app.models
                found.update(f"{base}.{a.name}" if (APP.parent / base.replace(".", "/") / a.name).exists()
                             or (APP.parent / f"{base.replace('.', '/')}/{a.name}.py").exists() else base
                             for a in node.names)
    return found


def graph():
    modules = {module_name(p): p for p in APP.rglob("*.py")}
    return {name: {m for m in imports_of(path) if m in modules and m != name} for name, path in modules.items()}


def layer_of(module):
    """(rank, group) of the longest layer entry that is `module` or contains it."""
    best = None
    for rank, group in enumerate(LAYERS):
        for entry in group:
            if module == entry or module.startswith(entry + "."):
                if best is None or len(entry) > len(best[1]):
                    best = (rank, entry)
    assert best is not None, f"{module} is in no layer: add it to LAYERS"
    return best


def test_every_module_belongs_to_a_layer():
    for module in graph():
        layer_of(module)


def test_imports_only_go_down_or_stay_in_their_package():
    upward = []
    for module, targets in graph().items():
        rank, group = layer_of(module)
        for target in targets:
            target_rank, target_group = layer_of(target)
            if target_rank < rank or target_group == group:
                continue
            upward.append(f"{module} -> {target}")
    assert upward == []


def test_schemas_import_no_service():
    assert [(m, t) for m, ts in graph().items() for t in ts
            if m.startswith("app.schemas") and t.startswith("app.services")] == []


def test_the_import_graph_has_no_loop():
    edges = graph()
    state, loops = {}, []

    def visit(node, path):
        state[node] = "open"
        for target in sorted(edges[node]):
            if state.get(target) == "open":
                loops.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in state:
                visit(target, path + [target])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert loops == []


def test_the_checker_sees_a_planted_upward_import(tmp_path, monkeypatch):
    """The checks above cannot pass vacuously: a model importing a service is caught."""
    fake = tmp_path / "app"
    (fake / "models").mkdir(parents=True)
    (fake / "services").mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "models" / "__init__.py").write_text("from app.services.rates import compute_rates\n")
    (fake / "services" / "__init__.py").write_text("")
    (fake / "services" / "rates.py").write_text("from app.models import Inspection\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["APP"]), "APP", fake)
    edges = graph()
    assert edges["app.models"] == {"app.services.rates"}
    assert edges["app.services.rates"] == {"app.models"}
    assert layer_of("app.services.rates")[0] > layer_of("app.models")[0]
