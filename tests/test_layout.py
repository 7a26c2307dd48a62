"""The shape of the code: one package per area, no import cycles, the sandbox kept outside."""
import ast
import pkgutil
from pathlib import Path

import pytest

import cc_sandbox
import eo_cc

from . import ROOT

MAX_MODULE_LINES = 400


def modules(package):
    """{module name: source path} for a package and everything under it."""
    found = {package.__name__: Path(package.__file__)}
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        spec = info.module_finder.find_spec(info.name)
        found[info.name] = Path(spec.origin)
    return found


def imported_modules(name, path, known):
    """The known modules that module `name` imports, anywhere in its source."""
    is_package = path.name == "__init__.py"
    here = name if is_package else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = here
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            base = f"{base}.{node.module}" if node.level and node.module else (base if node.level else node.module)
            for alias in node.names:  # `from . import views` imports a module, `from .db import one` a name
                targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {target for target in targets if target in known and target != name}


def import_graph():
    known = {**modules(eo_cc), **modules(cc_sandbox)}
    return {name: imported_modules(name, path, known) for name, path in known.items()}


def find_cycle(graph):
    """One import cycle as a list of module names, or None."""
    state = {}

    def visit(node, trail):
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return trail[trail.index(target):] + [target]
            if target not in state:
                cycle = visit(target, trail + [target])
                if cycle:
                    return cycle
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start, [start])
            if cycle:
                return cycle
    return None


def test_no_module_imports_another_that_imports_it_back():
    assert find_cycle(import_graph()) is None


def test_find_cycle_finds_a_cycle_through_three_modules():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]


def test_the_product_never_imports_the_sandbox():
    graph = import_graph()
    leaks = {name: sorted(t for t in targets if t.startswith("cc_sandbox"))
             for name, targets in graph.items() if name.startswith("eo_cc")}
    assert {name: targets for name, targets in leaks.items() if targets} == {}


@pytest.mark.parametrize("package", ["eo_cc.elections", "eo_cc.roster", "eo_cc.voting", "eo_cc.cc"])
def test_each_area_is_a_package_with_its_views(package):
    assert f"{package}.views" in modules(eo_cc)


def test_no_module_is_longer_than_about_400_lines():
    too_long = {name: len(path.read_text().splitlines())
                for name, path in {**modules(eo_cc), **modules(cc_sandbox)}.items()}
    assert {name: lines for name, lines in too_long.items() if lines > MAX_MODULE_LINES} == {}


def test_no_prefixed_sibling_modules_stand_in_for_packages():
    names = [name.rpartition(".")[2] for name in modules(eo_cc)]
    prefixes = [prefix for prefix in ("sync_", "election_", "cc_", "roster_")
                if any(n.startswith(prefix) for n in names)]
    assert prefixes == []


def test_scripts_import_the_installed_package_without_touching_sys_path():
    for script in (ROOT / "scripts").glob("*.py"):
        assert "sys.path" not in script.read_text(), script.name


@pytest.mark.parametrize("package", ["eo_cc.counting", "eo_cc.elections.ranked", "eo_cc.elections.tally",
                                     "eo_cc.roster.weights"])
def test_counting_imports_nothing_from_flask(package):
    """Counting is a plain function over stored ballots: the site, `flask tally` and tests share it."""
    found = {name: path for name, path in modules(eo_cc).items() if name == package or name.startswith(package + ".")}
    assert found
    for name, path in found.items():
        tree = ast.parse(path.read_text())
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and not node.level}
        assert not {m for m in imported if m.split(".")[0] in ("flask", "flask_login", "flask_wtf")}, name
