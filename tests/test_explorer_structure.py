"""The explorer's structure (DESIGN.md, "Thin widgets over a small Qt-free model"): views never import each other or
the panel; services import no view and take no panel. Read from the source (AST), so it runs without Qt."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

EXPLORER = Path(__file__).resolve().parent.parent / "vae_gui" / "explorer"

# Widgets that mirror a part of the model (vae_gui/model/) and write user actions back to it.
VIEWS = {"atlas_view", "compare_panel", "directions_tab", "empty_state", "face_panel", "gallery", "info_panel",
         "morph_tab", "neighbours_strip", "samples_tab", "sliders_tab", "traversals_tab", "variations_tab"}
# What does the work; writes only to the model.
SERVICES = {"checkpoint_loader", "compare_menu", "face_actions", "follow_controller", "menus", "state_files",
            "tab_requests"}


def explorer_imports(module: str, folder: Path = EXPLORER) -> set[str]:
    """The vae_gui.explorer modules `module` imports (relative or absolute, anywhere in the file)."""
    tree = ast.parse((folder / f"{module}.py").read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            name = node.module or ""
            if node.level == 1:
                found.add(name.split(".")[0] if name else "")
                found.update(alias.name for alias in node.names if not name)
            elif name.startswith("vae_gui.explorer."):
                found.add(name.split(".")[2])
        elif isinstance(node, ast.Import):
            found.update(alias.name.split(".")[2] for alias in node.names
                         if alias.name.startswith("vae_gui.explorer."))
    return found - {""}


def test_the_lists_name_real_modules():
    modules = {path.stem for path in EXPLORER.glob("*.py")}
    assert VIEWS <= modules and SERVICES <= modules


@pytest.mark.parametrize("view", sorted(VIEWS))
def test_a_view_imports_no_other_view_and_not_the_panel(view):
    assert explorer_imports(view) & (VIEWS | {"panel"}) - {view} == set()


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_a_service_imports_no_view_and_takes_no_panel(service):
    source = (EXPLORER / f"{service}.py").read_text(encoding="utf-8")
    assert explorer_imports(service) & (VIEWS | {"panel"}) == set()
    tree = ast.parse(source)
    parameters = {arg.arg for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) for arg in node.args.args}
    assert "panel" not in parameters
    assert panel_names(tree) == []


def panel_names(tree: ast.AST) -> list[str]:
    """Every use of a name or attribute called `panel` (`panel.gallery`, `self.panel.morph_tab.set_endpoint`): a
    service that holds the panel reaches through it into the views."""
    return [ast.unparse(node) for node in ast.walk(tree)
            if isinstance(node, ast.Name) and node.id == "panel"
            or isinstance(node, ast.Attribute) and node.attr == "panel"]


def test_the_checker_sees_a_service_reaching_through_the_panel():
    tree = ast.parse("def on_pick(requests):\n    requests.panel.morph_tab.set_endpoint('A')\n"
                     "def entries(menu, window):\n    panel = window\n")
    assert sorted(panel_names(tree)) == ["panel", "requests.panel"]


def test_the_checker_sees_a_view_importing_a_view(tmp_path):
    """The tests above can fail: relative and absolute imports of sibling modules are found."""
    (tmp_path / "sample_view.py").write_text("from .gallery import TestGallery\nfrom . import info_panel\n"
                                             "from vae_gui.explorer.panel import ExplorerPanel\n")
    assert explorer_imports("sample_view", tmp_path) == {"gallery", "info_panel", "panel"}


# Views given the parts they mirror (vae_gui/model/), not the whole ExplorerModel; the panel hands them out.
PART_VIEWS = {"face_panel", "gallery", "info_panel", "morph_tab"}


@pytest.mark.parametrize("view", sorted(PART_VIEWS))
def test_a_view_of_parts_takes_the_parts_not_the_whole_model(view):
    tree = ast.parse((EXPLORER / f"{view}.py").read_text(encoding="utf-8"))
    annotations = {ast.unparse(arg.annotation) for node in ast.walk(tree)
                   if isinstance(node, ast.FunctionDef) and node.name == "__init__"
                   for arg in node.args.args if arg.annotation is not None}
    assert annotations and not annotations & {"ExplorerModel", "ExplorerState"}
