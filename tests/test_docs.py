"""The documentation is run, not trusted.

* Every ```python block of the hand-written pages in docs/ is executed, and
  every ```pycon block is a doctest whose printed output and error messages
  must match what the code really prints (blocks of one page share one
  namespace, in order, as a reader would type them).
* docs/api.md documents every public name of `chainrule` and
  `chainrule.numpy`: its generated part must match `docs/gen_api.py`'s output.
* Every relative link between the pages points at a file that exists.
"""

from __future__ import annotations

import doctest
import importlib.util
import re
import runpy
from pathlib import Path

import pytest

import chainrule as cr

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = ["index.md", "api.md", "autodiff.md", "backends.md", "errors.md", "distributed.md"]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
NEEDS = {"jax": importlib.util.find_spec("jax") is not None}


def blocks(page: str):
    """(language, code, line number) of each fenced block of a page."""
    text = (DOCS / page).read_text()
    for m in FENCE.finditer(text):
        yield m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1


@pytest.mark.parametrize("page", PAGES)
def test_page_snippets_run(page, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # snippets that write files write them here
    globs = {"__name__": f"docs_{page[:-3]}"}
    parser = doctest.DocTestParser()
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    ran = 0
    for lang, code, line in blocks(page):
        if not NEEDS["jax"] and re.search(r"import jax|backends\.jax", code):
            continue  # blocks about the JAX backend or from_jax need jax installed
        if lang == "python":
            exec(compile(code, f"{page}:{line}", "exec"), globs)
            ran += 1
        elif lang == "pycon":
            test = parser.get_doctest(code, globs, f"{page}:{line}", str(DOCS / page), line)
            runner = doctest.DocTestRunner(optionflags=flags)
            out = []
            runner.run(test, out=out.append, clear_globs=False)
            globs.update(test.globs)  # DocTest works on a copy: carry names on to the next block
            assert runner.failures == 0, f"{page}, block at line {line}:\n" + "".join(out)
            ran += 1
    assert ran > 0 or page == "index.md", f"{page} has no runnable examples"


def test_api_md_is_up_to_date():
    gen = runpy.run_path(str(DOCS / "gen_api.py"))
    text = (DOCS / "api.md").read_text()
    assert gen["updated_text"](text) == text, "docs/api.md is out of date: run python docs/gen_api.py"


def test_every_public_name_is_documented():
    text = (DOCS / "api.md").read_text()
    import chainrule.numpy as cnp
    missing = [n for n in cr.__all__ if f"`cr.{n}" not in text]
    assert not missing, f"docs/api.md does not document chainrule.{', chainrule.'.join(missing)}"
    missing = [n for n in dir(cnp) if not n.startswith("_") and f"`{n}`" not in text
               and f"`chainrule.numpy.{n}`" not in text]
    assert not missing, f"docs/api.md does not list chainrule.numpy.{', '.join(missing)}"


def test_generated_groups_have_no_stray_names():
    # every name a group lists is real, so the lists cannot rot into fiction
    import chainrule.numpy as cnp
    gen = runpy.run_path(str(DOCS / "gen_api.py"))
    section = gen["generate"]()
    listed = set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", section))
    subs = {n for s in ("linalg", "fft", "special") for n in gen["public_names"](getattr(cnp, s))}
    import chainrule.scipy.linalg as csl
    import chainrule.scipy.special as css
    import chainrule.scipy.stats as cst
    dists = {n for n in dir(cst) if not n.startswith("_") and hasattr(getattr(cst, n), "__all__")}
    subs |= set(css.__all__) | set(csl.__all__) | dists | {f for d in dists for f in getattr(cst, d).__all__}
    subs |= {n for m in (cr.lax, cr.nn, cr.nn.initializers, cr.random) for n in gen["namespace_names"](m)}
    assert listed <= set(dir(cnp)) | subs | {"chainrule"}, listed - set(dir(cnp)) - subs


@pytest.mark.parametrize("page", sorted(p.name for p in DOCS.glob("*.md")))
def test_relative_links_resolve(page):
    text = (DOCS / page).read_text()
    for target in re.findall(r"\]\(([\w./-]+\.(?:md|py))(?:#[^)]*)?\)", text):
        assert (DOCS / target).exists(), f"{page} links to {target}, which does not exist"


RESULT_COMMENT = re.compile(r"^(?P<expr>[^#=\n][^#\n]*?)\s+#\s*(?P<want>\[?array\(.*?\)\]?)(?::.*)?$")


def test_readme_code_blocks_run_and_say_what_they_print(monkeypatch, tmp_path):
    """Every ```python block of README.md runs (in order, one namespace), and a line
    `expression  # array(...)` prints what its comment says."""
    monkeypatch.chdir(tmp_path)
    text = (DOCS.parent / "README.md").read_text()
    globs = {"__name__": "readme"}
    checked = 0
    for m in FENCE.finditer(text):
        if m.group(1) != "python":
            continue
        line = text.count("\n", 0, m.start()) + 1
        exec(compile(m.group(2), f"README.md:{line}", "exec"), globs)
        for k, src in enumerate(m.group(2).splitlines()):
            r = RESULT_COMMENT.match(src)
            if r:
                got = re.sub(r"\s+", " ", repr(eval(r.group("expr"), globs)))
                want = re.sub(r"\s+", " ", r.group("want"))
                assert got == want, f"README.md:{line + 1 + k}: prints {got}, the comment says {want}"
                checked += 1
    assert checked >= 4
