"""The shape ARCHITECTURE.md asks for, checked: the product never imports the
stand-ins (only the demo does, as an optional part), and `bot/` holds none."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "bot" / "demo.py"


def imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def product_files() -> list[Path]:
    return [
        path
        for folder in ("bot", "handlers")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path != DEMO
    ]


def test_the_product_never_imports_the_stand_ins():
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            m for m in imported_modules(path) if m.split(".")[0] == "standin"
        )
        for path in product_files()
    }
    assert {k: v for k, v in offenders.items() if v} == {}
    assert "standin.slack" in {m.rsplit(".", 1)[0] for m in imported_modules(DEMO)} | set(
        imported_modules(DEMO)
    )


def test_bot_holds_no_stand_in():
    assert not (ROOT / "bot" / "sandbox").exists()
    assert (ROOT / "standin" / "slack").is_dir() and (ROOT / "standin" / "teams").is_dir()
