"""
What other apps import of consistency (docs/architecture.md, "Between the apps"): its
public names only, never its engine, its runner, its tasks or its read models.
Read from the source, so that a lazy import inside a function counts too.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# consistency's public surface for the other apps; `consistency.jobs` is the package
# itself (start_resync, start_repair_all and their errors), not its modules.
PUBLIC = {"consistency", "consistency.jobs", "consistency.catalogue", "consistency.permissions", "consistency.models"}


def imported_modules(path):
    """Yield (line, module) for every module a file imports, `from x import y` giving x, or x.y where y is a module."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                is_module = (ROOT / submodule.replace(".", "/")).is_dir() or (
                    ROOT / (submodule.replace(".", "/") + ".py")
                ).is_file()
                yield node.lineno, submodule if is_module else node.module


def reaches_inside(module):
    if not module.startswith("consistency"):
        return False
    return module not in PUBLIC and not module.startswith("consistency.models.")


def test_interventions_imports_only_the_public_names_of_consistency():
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sorted((ROOT / "interventions").rglob("*.py"))
        if "migrations" not in path.parts
        for line, module in imported_modules(path)
        if reaches_inside(module)
    ]
    assert found == []


def test_the_check_sees_an_import_of_the_engine_or_the_jobs_service(tmp_path):
    source = tmp_path / "actions.py"
    source.write_text(
        "from consistency.jobs import service as job_api\n"
        "def f():\n    from consistency.engine.checks import normalise_email\n"
        "from consistency import jobs\nfrom consistency.models.audit import record\n"
    )
    inside = [module for _, module in imported_modules(source) if reaches_inside(module)]
    assert inside == ["consistency.jobs.service", "consistency.engine.checks"]
