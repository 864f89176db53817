"""What a user reads: every relative link in the READMEs, the package's notes and the notebook's
markdown points at a file (and heading) that exists, and no path of one particular machine (this
team's, a home folder, Colab's) appears where a user reads or runs it."""

import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))  # scripts/ is not a package
from gpu_campaign import MACHINE_PATH  # noqa: E402  (the one home of the rule)
NOTEBOOK = ROOT / "notebooks" / "cifar10_separable.ipynb"
MARKDOWN = [ROOT / "README.md", ROOT / "results" / "README.md",
            *sorted((ROOT / "assignment_utils" / "package_data").glob("*.md"))]

FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
CODE_SPAN = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)



def _prose(markdown: str) -> str:
    """``markdown`` without fenced code blocks and code spans, where links are not links."""
    return CODE_SPAN.sub("", FENCE.sub("", markdown))


def slugs(markdown: str) -> set[str]:
    """GitHub's anchors of the headings of ``markdown``: lower case, punctuation dropped,
    spaces turned into hyphens."""
    return {re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")
            for title in HEADING.findall(FENCE.sub("", markdown))}


def broken_links(markdown: str, folder: Path) -> list[str]:
    """The relative link targets of ``markdown`` (read from ``folder``) that point at no file,
    or at no heading of a markdown file; ``http:``, ``mailto:`` and the like are not checked."""
    broken = []
    for target in LINK.findall(_prose(markdown)):
        if SCHEME.match(target):
            continue
        path, _, anchor = target.partition("#")
        file = (folder / path) if path else None
        if file is not None and not file.exists():
            broken.append(target)
        elif anchor and (file is None or file.suffix == ".md"):
            text = markdown if file is None else file.read_text(encoding="utf-8")
            if anchor not in slugs(text):
                broken.append(target)
    return broken


def _notebook_markdown() -> str:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    return "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_at_something(path):
    assert broken_links(path.read_text(encoding="utf-8"), path.parent) == []


def test_notebook_markdown_links_point_at_something():
    assert broken_links(_notebook_markdown(), NOTEBOOK.parent) == []


def test_the_link_check_can_fail(tmp_path):
    (tmp_path / "there.md").write_text("# Where it is\n")
    text = ("[ok](there.md) [ok](there.md#where-it-is) [gone](missing.md) [bad](there.md#nowhere) "
            "[web](https://example.org/x) [self](#title) [self gone](#other) `[code](nothing.md)`\n"
            "```\n[fenced](nothing.md)\n```\n# Title\n")
    assert broken_links(text, tmp_path) == ["missing.md", "there.md#nowhere", "#other"]


def test_heading_anchors_follow_github():
    assert slugs("# Reliability: what is guaranteed\n## Colab, JupyterLab and papermill\n") == {
        "reliability-what-is-guaranteed", "colab-jupyterlab-and-papermill"}


def _user_files() -> list[Path]:
    package = [p for p in (ROOT / "assignment_utils").rglob("*")
               if p.suffix in {".py", ".md", ".txt"} and "__pycache__" not in p.parts]
    scripts = [p for p in (ROOT / "scripts").iterdir() if p.is_file()]
    return sorted(package + scripts + MARKDOWN[:2] + [NOTEBOOK])


def test_no_machine_paths_where_users_read_or_run():
    found = {f"{path.relative_to(ROOT)}: {match}" for path in _user_files()
             for match in MACHINE_PATH.findall(path.read_text(encoding="utf-8"))}
    assert not found, "paths of a particular machine (take them from an argument or an " \
                      f"environment variable instead): {sorted(found)}"


@pytest.mark.parametrize("text", ["/work/main/x", "python3 /tmp/cifar10.npz", "/root/.keras",
                                  "../shared/data/cifar10", "shared/data/cifar10/unpack.py",
                                  "/home/alice/x", "/home/<user>/x", '"/content/drive"',
                                  r"C:\Users\me"])
def test_machine_paths_are_recognised(text):
    assert MACHINE_PATH.search(text)


@pytest.mark.parametrize("text", ['re.compile(r"(/root/|/home/|/tmp/|/work/|/content/)")',
                                  "https://www.cs.toronto.edu/~kriz/cifar.html",
                                  '"drive/MyDrive/cifar10-run"', "-p data_path /path/to/copy",
                                  "~/.keras/datasets", "os.path.join"])
def test_legitimate_text_is_not_a_machine_path(text):
    assert not MACHINE_PATH.search(text)
