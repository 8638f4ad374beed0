"""The layers keep to their places (issue 10), read from the source itself with ``ast``: every
import statement in every file counts, at module level or inside a function.

- ``sampling/`` and the standalone verifier use only the standard library (and ``sampling``;
  the statistics add numpy and scipy), never Flask or the database;
- nothing in ``services/`` or ``sampling/`` reads the request (flask's ``request``, ``g``,
  ``session``, the ``auth`` module), a blueprint, a job or the CLI;
- no blueprint imports from ``jobs/`` or ``cli/``; nothing but the scheduler imports a job;
- the project's modules import each other without a cycle.
"""

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("blueprints", "cli", "jobs", "models", "sampling", "scripts", "services")
REQUEST_STATE = {"request", "g", "session", "has_request_context"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_files() -> dict[str, Path]:
    """``{module name: path}`` of every Python module of the project (tests and migrations aside)."""
    files = {module_name(p): p for p in ROOT.glob("*.py")}
    for package in PACKAGES:
        files.update({module_name(p): p for p in (ROOT / package).rglob("*.py")})
    return files


MODULES = project_files()


def imports_of(path: Path) -> list[tuple[str, list[str], bool]]:
    """``(module, names, at module level)`` of every import statement in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # a relative import, resolved against the file's package
                package = module_name(path) if path.name == "__init__.py" else module_name(path).rsplit(".", 1)[0]
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((base, [alias.name for alias in node.names], id(node) in top))
    return found


def project_targets(module: str, names: list[str], importer: str = "") -> set[str]:
    """The project modules an import statement loads (``from pkg import mod`` loads ``pkg.mod``,
    and ``pkg`` itself unless the importer is inside ``pkg``, which Python has begun already)."""
    targets = {module} if module in MODULES else set()
    targets |= {f"{module}.{name}" for name in names if f"{module}.{name}" in MODULES}
    parts = module.split(".")
    targets |= {".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) in MODULES}
    return {t for t in targets
            if not (MODULES[t].name == "__init__.py" and importer.startswith(t + "."))}


def in_layer(module: str, *layers: str) -> bool:
    return any(module == layer or module.startswith(layer + ".") for layer in layers)


def test_the_check_reads_imports_inside_functions_too(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import os\n\ndef f():\n    import numpy\n    from flask import request\n", encoding="utf-8")
    found = {module for module, _, _ in imports_of(sample)}
    assert found == {"os", "numpy", "flask"}


# Beyond the standard library: the statistics need numerical libraries (still no Flask, no database).
ALSO_ALLOWED = {"sampling/stats.py": {"numpy", "scipy"}}


@pytest.mark.parametrize("path", sorted((ROOT / "sampling").rglob("*.py")) + [ROOT / "scripts" / "verify_draw.py"],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_code_uses_only_the_standard_library(path):
    outside = {module.split(".")[0] for module, _, _ in imports_of(path)} - set(sys.stdlib_module_names)
    allowed = set() if path.parent.name == "scripts" else {"sampling"}
    assert outside <= allowed | ALSO_ALLOWED.get(str(path.relative_to(ROOT)), set()), \
        f"{path.name} imports {sorted(outside)}"


def test_services_and_sampling_never_read_the_request():
    found = []
    for name, path in MODULES.items():
        if not in_layer(name, "services", "sampling"):
            continue
        for module, names, _ in imports_of(path):
            if module == "flask" and REQUEST_STATE & set(names):
                found.append(f"{name}: from flask import {', '.join(sorted(REQUEST_STATE & set(names)))}")
            if in_layer(module, "auth", "blueprints", "jobs", "cli", "guards"):
                found.append(f"{name}: imports {module}")
        source = path.read_text(encoding="utf-8")
        if "flask.request" in source or "flask.g." in source:
            found.append(f"{name}: reads flask.request or flask.g")
    assert found == []


def test_blueprints_import_nothing_from_jobs_or_the_cli():
    found = [f"{name}: imports {module}"
             for name, path in MODULES.items() if in_layer(name, "blueprints")
             for module, names, _ in imports_of(path)
             if in_layer(module, "jobs", "cli") or (module == "" and {"jobs", "cli"} & set(names))]
    assert found == []


def test_only_the_scheduler_imports_a_job():
    found = [f"{name}: imports {target}"
             for name, path in MODULES.items() if not in_layer(name, "jobs")
             for module, names, _ in imports_of(path)
             for target in project_targets(module, names)
             if in_layer(target, "jobs") and target not in ("jobs", "jobs.scheduler")]
    assert found == []


def test_no_private_name_is_imported_from_another_module():
    found = [f"{name}: from {module} import {imported}"
             for name, path in MODULES.items()
             for module, names, _ in imports_of(path) if module.split(".")[0] in {m.split(".")[0] for m in MODULES}
             for imported in names if imported.startswith("_") and not imported.startswith("__")]
    assert found == []


def import_graph(module_level_only: bool) -> dict[str, set[str]]:
    graph = {}
    for name, path in MODULES.items():
        graph[name] = {target for module, names, top in imports_of(path) if top or not module_level_only
                       for target in project_targets(module, names, name) if target != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as a list of modules, or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node):
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle_between_the_projects_modules():
    assert find_cycle(import_graph(module_level_only=False)) is None


def test_pages_carry_no_inline_script_or_style():
    """The pages' Content-Security-Policy allows only the app's own files: an inline ``style=``,
    ``<style>`` or ``<script>`` body would be blocked in the browser."""
    import re

    inline = re.compile(r"""\sstyle\s*=|<style[\s>]|<script(?![^>]*\ssrc=)[^>]*>""", re.IGNORECASE)
    offenders = [f"{path.name}:{n}" for path in sorted((ROOT / "templates").glob("*.html"))
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if inline.search(line)]
    assert offenders == []
