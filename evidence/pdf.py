"""The report as PDF, printed by the system Chromium through Playwright, with no network at all.

The HTML is self-contained (inline CSS and SVG); every request the page might
still make is aborted, so printing can neither leak the case nor fetch anything.
Playwright's sync API refuses to run inside a running asyncio loop (the demo
crawls in-process with Twisted's asyncio reactor), so printing runs in a thread
of its own.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Route, sync_playwright

from panelmap.browser import CHROMIUM_ARGS, find_chromium

from .errors import EvidenceError

PAGE_TIMEOUT_MS = 60_000


def _abort(route: Route) -> None:
    route.abort()


def _print(html: str, out: Path) -> str:
    chromium = find_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(headless=True, executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(offline=True, java_script_enabled=False)
            page = context.new_page()
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            page.route("**/*", _abort)
            page.set_content(html, wait_until="load")
            page.pdf(path=str(out), format="A4", print_background=True, display_header_footer=True,
                     header_template="<span></span>",
                     footer_template='<div style="font-size:8px;width:100%;text-align:center;">'
                                     'page <span class="pageNumber"></span> of <span class="totalPages"></span></div>',
                     margin={"top": "14mm", "bottom": "16mm", "left": "12mm", "right": "12mm"})
            return browser.version
        finally:
            browser.close()


def render_pdf(html: str, out: Path) -> str:
    """Print `html` to `out`; returns the version of the Chromium that printed it."""
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="panelmap-pdf") as pool:
            return pool.submit(_print, html, out).result()
    except PlaywrightError as exc:
        raise EvidenceError(f"Chromium could not print the report: {str(exc).splitlines()[0]}") from None
