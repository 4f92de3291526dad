"""Headless Chromium for the tests: find and launch it, screenshot pages, and tell blank pages and broken images."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

# Flags that let Debian's chromium run headless as root in a container, offline and without first-run chores.
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
INSTALL_HINT = "run .ci/install-browser.sh"

# Every <img> that the browser could not decode or fetch (complete but zero-sized, or never completed).
BROKEN_IMAGES_JS = """() => [...document.images]
    .filter(img => !(img.complete && img.naturalWidth > 0))
    .map(img => (img.getAttribute('src') || '').slice(0, 80))"""


class BrowserUnavailable(RuntimeError):
    """No usable Chromium here (not installed, playwright missing, or it would not start); the message says which."""


def find_chromium() -> Path | None:
    """Path of a Chromium executable: $EMOTRACE_CHROMIUM, else Debian's /usr/bin/chromium, else one on PATH."""
    override = os.environ.get("EMOTRACE_CHROMIUM")
    if override:
        return Path(override) if Path(override).is_file() else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def unavailable_reason() -> str | None:
    """Why no headless Chromium can be had here (cheap checks, nothing launched), or None when it can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as err:
        return f"python package playwright is not installed ({err})"
    if find_chromium() is None:
        return f"no chromium executable found (tried $EMOTRACE_CHROMIUM, {', '.join(CANDIDATES)}); {INSTALL_HINT}"
    return None


@contextmanager
def open_browser(profile_dir: Path, width: int = 1400, height: int = 900) -> Iterator[BrowserContext]:
    """Headless Chromium driven by playwright, with a fresh profile in `profile_dir`; yields a BrowserContext."""
    reason = unavailable_reason()
    if reason is not None:
        raise BrowserUnavailable(reason)
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    executable = find_chromium()
    with sync_playwright() as pw:
        try:
            context = pw.chromium.launch_persistent_context(
                str(profile_dir),
                executable_path=str(executable),
                headless=True,
                args=list(CHROMIUM_FLAGS),
                viewport={"width": width, "height": height},
            )
        except PlaywrightError as err:
            raise BrowserUnavailable(f"{executable} would not start: {str(err).splitlines()[0]}") from err
        try:
            context.set_default_timeout(20_000)
            yield context
        finally:
            context.close()


def wait_for_images(page: Page) -> None:
    """Block until every <img> on the page has finished loading or failed (data URIs decode asynchronously)."""
    page.wait_for_function("() => [...document.images].every(img => img.complete)")


def broken_images(page: Page) -> list[str]:
    """Start of the src of each image on the page that failed to load; empty when all rendered."""
    wait_for_images(page)
    return page.evaluate(BROKEN_IMAGES_JS)


def pixel_spread(png: Path) -> float:
    """Standard deviation of the grey levels (0-255) of a screenshot: about 0 for a blank page."""
    with Image.open(png) as image:
        grey = np.asarray(image.convert("L"), dtype=np.float64)
    return float(grey.std())


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) in pixels of an image file, to compare with what the browser decoded."""
    with Image.open(path) as image:
        return image.size
