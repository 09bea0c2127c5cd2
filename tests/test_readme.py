"""The README is the front door: its quickstart is what CI runs, it stays short, and its links hold.

The backend facts live in docs/backends.md, the other topics in docs/*.md, the figures in
BENCHMARKS.md; the README links every docs page.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README_LIMIT = 8000  # characters: what it is, the two commands, three examples, where to read on
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def docs_pages() -> list[Path]:
    return sorted((ROOT / "docs").glob("*.md"))


def backends_page() -> str:
    return (ROOT / "docs" / "backends.md").read_text()


def without_code_blocks(text: str) -> str:
    """Markdown without its fenced code blocks (a `# comment` there is no heading)."""
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def anchors(path: Path) -> set[str]:
    """The anchors GitHub gives the headings (lower case, no punctuation, `-` for spaces)."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6} +(.+?) *$", without_code_blocks(path.read_text()), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        count = seen.get(slug, 0)  # GitHub numbers repeated headings: slug, slug-1, ...
        found.add(slug if count == 0 else f"{slug}-{count}")
        seen[slug] = count + 1
    return found


def relative_links(path: Path) -> list[str]:
    text = re.sub(r"`[^`\n]*`", "", without_code_blocks(path.read_text()))  # no links in code
    return [target for target in LINK.findall(text)
            if not re.match(r"[a-z][a-z0-9+.-]*:", target)]  # http:, https:, mailto: ...


def quickstart_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def ci_command() -> str:
    """The one command line `.ci/run` runs (its last non-comment line)."""
    lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    return lines[-1]


def test_quickstart_is_two_commands_and_ci_runs_the_test_one():
    install_and_train, install_and_test = quickstart_commands()
    assert "keras-recipes train" in install_and_train
    assert "pip install . " in install_and_train  # a plain install: TensorFlow, the default
    assert install_and_test == ci_command()


def test_the_test_command_runs_the_suite_on_tensorflow_then_on_jax():
    steps = ci_command().split(" && ")
    assert '"[dev,jax]"' in steps[1] or '".[dev,jax]"' in steps[1], steps
    runs = [step for step in steps if "pytest" in step]
    assert len(runs) == 2, steps
    assert "KERAS_BACKEND" not in runs[0]  # the default backend: TensorFlow
    assert runs[1] == "KERAS_BACKEND=jax " + runs[0]


def test_the_jax_extra_is_documented_and_pinned():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(d.startswith("tensorflow") for d in project["dependencies"])
    jax = project["optional-dependencies"]["jax"]
    assert {d.split(">")[0] for d in jax} == {"jax", "jaxlib"}
    assert all("<" in d for d in jax)  # a range we run, not an open one
    backends = backends_page()
    assert '".[jax]"' in backends and "KERAS_BACKEND=jax" in backends and "keras.json" in backends


def test_the_torch_extra_is_documented_with_its_test_command():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    torch = project["optional-dependencies"]["torch"]
    assert [d.split(">")[0] for d in torch] == ["torch"] and all("<" in d for d in torch)
    backends = backends_page().split("## PyTorch", 1)[1].split("\n## ", 1)[0]
    assert '".[dev,torch]"' in backends
    assert "KERAS_BACKEND=torch python -m pytest" in backends


def test_readme_is_short():
    size = len((ROOT / "README.md").read_text())
    assert size <= README_LIMIT, f"README.md is {size} characters; at most {README_LIMIT}"


def test_every_relative_link_in_the_readme_and_docs_resolves():
    """Each link's file exists, and a `#fragment` names a heading of that file."""
    broken = []
    for page in [ROOT / "README.md", ROOT / "BENCHMARKS.md", *docs_pages()]:
        for target in relative_links(page):
            file_part, _, fragment = target.partition("#")
            linked = (page.parent / file_part).resolve() if file_part else page
            if not linked.is_file():
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such file)")
            elif fragment and linked.suffix == ".md" and fragment not in anchors(linked):
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken


def test_the_readme_links_every_docs_page_and_the_benchmarks():
    linked = {(ROOT / target.partition("#")[0]).resolve()
              for target in relative_links(ROOT / "README.md")}
    assert docs_pages()
    pages = [*docs_pages(), ROOT / "BENCHMARKS.md"]
    unlinked = [path.relative_to(ROOT).as_posix() for path in pages if path.resolve() not in linked]
    assert not unlinked


def test_the_examples_import_the_package_by_its_own_name():
    """`keras_recipes`, not the bare `recipes` / `callbacks` a user's own file would shadow."""
    bare = re.compile(r"^\s*(import (recipes|callbacks)\b|from (recipes|callbacks)\b)", re.M)
    offenders = [f"{page.relative_to(ROOT)}: {match.group(0).strip()}"
                 for page in [ROOT / "README.md", *docs_pages()]
                 for block in re.findall(r"^```python\n(.*?)^```", page.read_text(), re.S | re.M)
                 for match in bare.finditer(block)]
    assert not offenders


def test_no_pre_keras_3_spellings_in_code():
    """No `lr=` keyword and no `tf.keras` in the code (docstrings may quote the slides)."""
    offenders = []
    for path in [*ROOT.glob("recipes/**/*.py"), *ROOT.glob("callbacks/**/*.py"),
                 *ROOT.glob("benchmarks/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and any(k.arg == "lr" for k in node.keywords):
                offenders.append(f"{path.name}:{node.lineno} lr=")
            if (isinstance(node, ast.Attribute) and node.attr == "keras"
                    and isinstance(node.value, ast.Name) and node.value.id == "tf"):
                offenders.append(f"{path.name}:{node.lineno} tf.keras")
    assert not offenders
