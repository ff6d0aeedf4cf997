"""The built documentation: offline, and nothing of the build machine in it.

Runs on the HTML of a finished docs build (``docs/_build/html``, or the folder
in ``SKDUO_DOCS_HTML``) and skips when there is none. ``.ci/run`` runs it
right after its docs build.
"""

import html
import os
import re
import sys
import sysconfig
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD = Path(os.environ.get("SKDUO_DOCS_HTML", ROOT / "docs" / "_build" / "html"))
PAGES = sorted(BUILD.rglob("*.html")) if BUILD.is_dir() else []

pytestmark = pytest.mark.skipif(
    not PAGES, reason=f"no built documentation in {BUILD} (build the docs first)"
)

# <script src="http..."> and <link href="http..."> (stylesheets, preloads,
# fonts): anything the browser would fetch from the network to show the page
REMOTE_SCRIPT = re.compile(r"<script\b[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//", re.I)
REMOTE_LINK = re.compile(r"<link\b[^>]*\bhref\s*=\s*[\"']?(?:https?:)?//[^>]*>", re.I)
FETCHED_REL = re.compile(r"\brel\s*=\s*[\"']?[^\"'>]*(stylesheet|preload|icon)", re.I)
REMOTE_IMPORT = re.compile(r"@import\s+(?:url\()?[\"']?(?:https?:)?//", re.I)


def _machine_paths():
    """Absolute paths that exist only on the machine that built the docs."""
    paths = {
        str(ROOT),
        str(ROOT.resolve()),
        sys.prefix,
        sys.base_prefix,
        sysconfig.get_paths()["purelib"],
        tempfile.gettempdir(),
        str(Path.home()),
    }
    # each folder followed by a separator; never a bare "/"
    return sorted(
        {p.rstrip("/") + "/" for p in paths if p.strip("/")}
        | {"site-packages/", "/root/", "/work/", "/home/"}
    )


MACHINE_PATHS = _machine_paths()


def _page_id(page):
    return str(page.relative_to(BUILD))


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_page_fetches_nothing_from_the_network(page):
    text = page.read_text(encoding="utf-8", errors="replace")
    scripts = REMOTE_SCRIPT.findall(text)
    links = [m for m in REMOTE_LINK.findall(text) if FETCHED_REL.search(m)]
    imports = REMOTE_IMPORT.findall(text)
    assert not (scripts or links or imports), (scripts, links, imports)


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_page_has_no_path_of_the_build_machine(page):
    text = html.unescape(page.read_text(encoding="utf-8", errors="replace"))
    found = sorted({p for p in MACHINE_PATHS if p in text})
    assert not found, f"{_page_id(page)} contains {found}"


OUTPUT_BLOCK = re.compile(
    r'<div class="sphx-glr-script-out[^"]*">(.*?)</div>\s*</div>', re.S
)
TRACEBACK = "Traceback (most recent call last)"


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_page_shows_no_traceback(page):
    text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8")))
    assert TRACEBACK not in text


EXAMPLES = [p for p in PAGES if p.parent.name == "auto_examples"]


@pytest.mark.parametrize("page", EXAMPLES, ids=_page_id)
def test_example_output_has_no_warning(page):
    text = page.read_text(encoding="utf-8")
    outputs = [
        html.unescape(re.sub(r"<[^>]+>", "", block))
        for block in OUTPUT_BLOCK.findall(text)
    ]
    warned = [line for out in outputs for line in out.splitlines() if "Warning" in line]
    assert not warned, f"{_page_id(page)} prints: {warned[:3]}"


def test_every_example_is_rendered():
    rendered = {p.stem for p in EXAMPLES}
    examples = {p.stem for p in (ROOT / "examples").glob("*.py")}
    assert examples <= rendered, sorted(examples - rendered)
