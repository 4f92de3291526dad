"""The HTML report of the tiny run, opened in headless Chromium: it renders, and every figure in it displays."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import browser
from conftest import TINY, snakemake

UNAVAILABLE = browser.unavailable_reason()  # checked before the tiny run is asked for, so a skip costs nothing
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(UNAVAILABLE is not None, reason=f"headless Chromium unavailable: {UNAVAILABLE}"),
]

CATEGORIES = ("Trigeorgis et al. 2016", "Yang & Hirschberg 2018", "Learning curves", "Tables and findings",
              "Run cost")
TABLES = "Tables and findings"
INTERVAL = re.compile(r"-?\.\d{3} \[-?\.\d{3}, -?\.\d{3}\]")  # a figure with its interval: .748 [.610, .830]
MIN_SPREAD = 8.0  # grey-level std of a screenshot; a blank page is ~0, the report's pages are > 30

# The result the report shows in its content pane, and that pane's image (the navbar holds only the logo).
SHOWN_JS = """() => {
    const path = app.state.resultPath;
    const img = [...document.images].find(i => !i.closest('nav'));
    return {
        path: path,
        mime: path ? results[path].mime_type : null,
        same_src: !!img && !!path && img.getAttribute('src') === results[path].data_uri,
        complete: !!img && img.complete,
        width: img ? img.naturalWidth : 0,
        height: img ? img.naturalHeight : 0,
        shown: img ? img.getBoundingClientRect().width * img.getBoundingClientRect().height : 0,
    };
}"""
SHOWN_CHANGED_JS = """prev => {
    const path = app.state.resultPath;
    if (!path || path === prev) return false;
    if (!results[path].mime_type.startsWith('image/')) return true;
    const img = [...document.images].find(i => !i.closest('nav'));
    return !!img && img.complete;
}"""


@pytest.fixture(scope="module")
def report(tiny_run: Path) -> Path:
    """report.html of the tiny run, made by `snakemake --report` like `make report` does."""
    path = tiny_run / "report.html"
    snakemake(tiny_run, "--configfile", str(TINY), "--report", str(path))
    return path


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    """Headless Chromium with a fresh profile; skips, saying why, where it will not start."""
    try:
        with browser.open_browser(tmp_path_factory.mktemp("chromium-profile")) as ctx:
            yield ctx
    except browser.BrowserUnavailable as err:
        pytest.skip(f"headless Chromium unavailable: {err}")


@pytest.fixture(scope="module")
def page(context, report: Path):
    """The report opened in the browser, with its JavaScript errors collected in `page.js_errors`."""
    tab = context.new_page()
    tab.js_errors = []
    tab.on("pageerror", lambda err: tab.js_errors.append(str(err)))
    tab.goto(report.as_uri(), wait_until="load")
    tab.wait_for_selector("#loading-screen", state="hidden")
    return tab


def slug(text: str) -> str:
    """File-name-safe form of a category name."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def assert_not_blank(page, png: Path) -> None:
    """Screenshot the page to `png` and fail when it is blank or its body shows no text."""
    page.screenshot(path=str(png))
    spread = browser.pixel_spread(png)
    assert spread > MIN_SPREAD, f"{png} looks blank (grey-level std {spread:.2f})"
    assert page.inner_text("body").strip(), f"no visible text on the page ({png})"


def go_home(page) -> None:
    """Back to the report's main menu through the home link of the breadcrumbs."""
    page.locator("nav ol a").first.click()
    page.locator("ul").get_by_role("link", name="Workflow", exact=True).wait_for()


def open_category(page, category: str) -> list[str]:
    """Click a result category in the main menu; return its subcategories, as the report lists them."""
    page.locator("ul").get_by_role("link", name=category, exact=True).click()
    return sorted(page.evaluate("c => Object.keys(categories[c])", category))


def each_subcategory(page, category: str):
    """Open each subcategory of a category in turn (from the main menu), yielding its name."""
    go_home(page)
    subcategories = open_category(page, category)
    for n, subcategory in enumerate(subcategories):
        if n:
            go_home(page)
            open_category(page, category)
        if len(subcategories) > 1:
            page.locator("ul").get_by_role("link", name=subcategory, exact=True).click()
        yield subcategory


def show_every_row(page, report_dir: Path) -> list[str]:
    """Click the eye button of every row of the open subcategory; check each image loads at its file's size.

    Returns the paths of the images shown; other results (tables, downloads) are opened or passed over.
    """
    rows = page.locator("tbody tr")
    page.locator("thead tr").wait_for()
    shown = []
    for i in range(rows.count()):
        eye = rows.nth(i).locator("[role=group] a").first
        if eye.get_attribute("download") is not None:
            continue  # a result the report only offers for download
        prev = page.evaluate("() => app.state.resultPath || null")
        eye.click()
        page.wait_for_function(SHOWN_CHANGED_JS, arg=prev)
        info = page.evaluate(SHOWN_JS)
        path = info["path"]
        if not info["mime"].startswith("image/"):
            continue
        assert info["same_src"], f"{path}: the content pane does not show this result"
        assert info["complete"] and info["width"] > 0, f"{path}: image failed to load in the browser"
        assert info["shown"] > 0, f"{path}: image is not laid out on screen"
        on_disk = report_dir / path
        assert on_disk.is_file(), f"report entry {path} is not a file of the run"
        if info["mime"] in ("image/png", "image/jpeg"):
            size = browser.image_size(on_disk)
            assert (info["width"], info["height"]) == size, f"{path}: decoded size differs from the file"
        shown.append(path)
    return shown


def test_front_page_renders(page, report):
    assert_not_blank(page, report.with_suffix(".png"))
    text = page.inner_text("body")
    for category in CATEGORIES:
        assert category in text, f"report menu lacks the category {category!r}"
    assert browser.broken_images(page) == []
    assert page.js_errors == []


def test_every_figure_displays(page, report, tiny_run):
    categories = page.evaluate("() => Object.keys(categories)")
    assert set(CATEGORIES) <= set(categories), f"report categories {categories}"
    shown = []
    for category in sorted(categories):
        for _ in each_subcategory(page, category):
            shown += show_every_row(page, tiny_run)
        assert_not_blank(page, report.with_name(f"{report.stem}-{slug(category)}.png"))
        assert browser.broken_images(page) == [], f"broken images under {category!r}"
    figures = sorted(p.relative_to(tiny_run).as_posix() for p in [*(tiny_run / "results").glob("*/figures/**/*.png"),
                                                                  *(tiny_run / "results").glob("*/runcost/*.png")])
    missing, extra = sorted(set(figures) - set(shown)), sorted(set(shown) - set(figures))
    assert not missing and not extra, f"figures of the run not shown in the report: {missing}; shown, not figures: {extra}"
    assert len(shown) == len(figures), "a figure is listed twice in the report"
    assert page.js_errors == []


def html_pages(page) -> dict[str, str]:
    """Open every HTML result of the tables category; {file name: the text its frame shows}."""
    pages = {}
    for _ in each_subcategory(page, TABLES):
        page.locator("thead tr").wait_for()
        rows = page.locator("tbody tr")
        for i in range(rows.count()):
            prev = page.evaluate("() => app.state.resultPath || null")
            rows.nth(i).locator("[role=group] a").first.click()
            page.wait_for_function(SHOWN_CHANGED_JS, arg=prev)
            path = page.evaluate("() => app.state.resultPath")
            frame = page.wait_for_selector("iframe").content_frame()
            frame.wait_for_selector("table")
            pages[Path(path).name] = frame.inner_text("body")
    return pages


def test_tables_and_findings_pages_display(page, report, tiny_run):
    """Both Table 1s, all metrics and the findings are report pages that show their tables and notes."""
    pages = html_pages(page)
    assert set(pages) == {"trigeorgis2016_table1.html", "yang2018_table1.html", "all_metrics.html", "findings.html"}
    for name in ("trigeorgis2016_table1.html", "yang2018_table1.html"):
        assert "raters (leave one out)" in pages[name], f"{name}: no raters' row"
        assert INTERVAL.search(pages[name]), f"{name}: no figure with an interval"
        assert "percentile bootstrap interval" in pages[name], f"{name}: notes missing"
    assert "ccc_low" in pages["all_metrics.html"] and "collapsed" in pages["all_metrics.html"]
    findings = pages["findings.html"]
    assert "verdicts: supported" in findings and "W+S beats W only" in findings
    assert re.search(r"supported|contradicted|inconclusive|collapsed", findings)
    assert_not_blank(page, report.with_name(f"{report.stem}-findings.png"))


def test_run_cost_page_shows_the_runs_cost(page, report, tiny_run):
    """The run-cost category holds one page, drawn from this run's benchmark files; the table counts its jobs."""
    go_home(page)
    assert len(open_category(page, "Run cost")) == 1
    shown = show_every_row(page, tiny_run)
    assert shown == ["results/tiny/runcost/run_cost.png"]
    assert_not_blank(page, report.with_name(f"{report.stem}-run-cost-page.png"))
    table = (tiny_run / "results" / "tiny" / "runcost" / "run_cost.md").read_text()
    assert "| train_network/e2e | 2 |" in table and "| total |" in table  # arousal and valence
    assert page.js_errors == []
