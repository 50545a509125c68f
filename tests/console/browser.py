"""The console in a real browser: Debian's Chromium driven by Playwright.

Run by tests/it/console_browser.rs against a server it started and filled through the
REST API. Input on stdin (JSON): base URL, operator token, a read-only API key, the
org, a source id, an event id and the sender's delivery id. Exits non-zero with a
message on the first failed check. With --screenshots DIR it also saves a screenshot
of each page (docs/console/ holds the ones the README shows).
"""

import json
import sys
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


def check(condition, message):
    if not condition:
        raise AssertionError(message)


class Session:
    """One browser context: records console errors and any request off the origin."""

    def __init__(self, browser, base, viewport, scale=1):
        self.base = base
        self.context = browser.new_context(viewport=viewport, device_scale_factor=scale)
        self.page = self.context.new_page()
        self.errors = []
        self.foreign = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("request", self._request)

    def _console(self, message):
        if message.type == "error":
            self.errors.append(message.text)

    def _request(self, request):
        if not request.url.startswith(self.base):
            self.foreign.append(request.url)

    def goto(self, path):
        return self.page.goto(self.base + path)

    def sign_in(self, token):
        self.goto("/console")
        check(self.page.url.endswith("/console/sign-in"), f"not sent to sign in: {self.page.url}")
        self.page.get_by_label("Token").fill(token)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(self.base + "/console")

    def sign_out(self):
        self.page.get_by_role("button", name="Sign out").click()
        self.page.wait_for_url(self.base + "/console/sign-in")

    def assert_clean(self, label):
        check(not self.errors, f"{label}: browser console errors {self.errors}")
        check(not self.foreign, f"{label}: requests left the origin: {self.foreign}")

    def shot(self, directory, name):
        if directory:
            self.page.screenshot(path=str(Path(directory) / f"{name}.png"), full_page=True)

    def close(self):
        self.context.close()


def report_run_event(given, event_type):
    """What the scheduler would report, through the REST intake."""
    body = json.dumps({"type": event_type, "run_id": given["run_id"],
                       "workflow_id": "wf_deploy", "data": {"step": event_type}}).encode()
    request = urllib.request.Request(
        f"{given['base']}/v1/orgs/{given['org']}/events", data=body, method="POST",
        headers={"authorization": f"Bearer {given['operator_token']}",
                 "content-type": "application/json"})
    with urllib.request.urlopen(request) as answer:
        check(answer.status == 202, f"run event answered {answer.status}")


def operator_tour(browser, given, screenshots):
    session = Session(browser, given["base"], {"width": 1280, "height": 800})
    page = session.page
    session.goto("/console/sign-in")
    session.shot(screenshots, "sign-in")
    session.sign_in(given["operator_token"])
    check(page.get_by_role("heading", name="Overview").is_visible(), "no overview heading")
    check(page.get_by_text("Outbox backlog").is_visible(), "operator sees no outbox figures")
    check(given["operator_token"] not in page.content(), "the operator token is on the page")
    session.shot(screenshots, "overview")
    headers = session.goto("/console").headers
    policy = headers.get("content-security-policy", "")
    check("script-src 'self'" in policy and "unsafe-inline" not in policy, f"CSP {policy!r}")
    check(headers.get("x-frame-options") == "DENY", "no X-Frame-Options: DENY")

    # Keyboard: the first Tab reaches the skip link, and focus is visible.
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    check(focused == "Skip to content", f"first Tab focused {focused!r}")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    check(outline != "none", "focus is not visible")

    page.get_by_role("link", name=given["org"]).first.click()
    page.wait_for_url(f"{given['base']}/console/orgs/{given['org']}")
    check(page.get_by_text(given["source_id"]).first.is_visible(), "source id not listed")
    session.shot(screenshots, "sources")

    page.get_by_role("link", name="console-source").click()
    page.wait_for_url(f"**/sources/{given['source_id']}")
    content = page.content()
    for expected in (given["event_id"], given["delivery_id"], "signature_invalid", "/v1/ingress/"):
        check(expected in content, f"source page lacks {expected}")
    check(given["secret"] not in content, "the source's secret is on the page")
    # Times read relative and absolute, with the zone.
    first_time = page.locator("time").first.text_content()
    check(" ago · " in first_time and first_time.endswith("UTC"), f"time shown as {first_time!r}")
    session.shot(screenshots, "source")

    # A phone-width screen: the page does not scroll sideways (tables scroll inside).
    page.set_viewport_size({"width": 390, "height": 844})
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    check(overflow <= 0, f"page is {overflow}px wider than a phone screen")
    session.shot(screenshots, "source-phone")
    page.set_viewport_size({"width": 1280, "height": 800})

    # Rotate: the new secret is on the next page only, with a copy button.
    page.get_by_role("button", name="Rotate secret").click()
    page.wait_for_url("**/secrets/rotate")
    check(page.get_by_text("shown on this page only").is_visible(), "no once-only notice")
    new_secret = page.locator("code.secret").inner_text()
    check(len(new_secret) >= 32, f"new secret {new_secret!r}")
    page.get_by_role("link", name="Back to the source").click()
    check(new_secret not in page.content(), "the new secret is shown again")
    check(page.get_by_role("button", name="Expire secret").count() == 2, "expected two live secrets")

    # The search box takes the sender's delivery id and lands on the event's page.
    page.get_by_label("Find any id").fill(given["delivery_id"])
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/console/events/{given['event_id']}")
    check(page.get_by_role("heading", name="Lineage").is_visible(), "no lineage on the event page")
    check(page.get_by_text("[redacted]").count() > 0, "signature header not shown redacted")
    session.shot(screenshots, "event")
    page.get_by_role("button", name="Replay as a new run").click()
    page.wait_for_url("**replayed=run_*")
    check(page.get_by_role("status").inner_text().startswith("Replayed as run"), "no replay notice")

    # The run's page follows its timeline live: an event reported now shows up as a row.
    session.goto(f"/console/runs/{given['run_id']}")
    check(page.get_by_role("heading", name="Timeline").is_visible(), "no timeline")
    report_run_event(given, "run.started")
    page.locator("#timeline-rows tr", has_text="run.started").wait_for(timeout=10000)
    report_run_event(given, "run.completed")
    page.locator("#timeline-rows tr", has_text="run.completed").wait_for(timeout=10000)
    check("has ended" in page.locator("#live").inner_text(), "the end of the run is not shown")
    session.shot(screenshots, "run")

    # Endpoints: the list with health, then one endpoint with its actions.
    session.goto(f"/console/orgs/{given['org']}/endpoints")
    # It received the run events above and could not be reached: it shows as failing.
    health = page.locator("tbody tr td:nth-child(3)").first.inner_text()
    check(health == "healthy" or health.startswith("failing since"), f"endpoint health {health!r}")
    page.get_by_role("link", name=given["endpoint_id"]).click()
    page.wait_for_url(f"**/console/endpoints/{given['endpoint_id']}")
    for button in ("Send a test event", "Disable", "Recover", "Rotate signing secret"):
        check(page.get_by_role("button", name=button).count() == 1, f"no {button} button")
    session.shot(screenshots, "endpoint")

    # The backend refused the first run event's delivery: retried from its page, it
    # gets a second attempt, which the backend accepts.
    failed = page.locator("a[href^='/console/deliveries/']")
    for _ in range(50):
        session.goto(f"/console/endpoints/{given['endpoint_id']}?status=failed")
        if failed.count() > 0:
            break
        page.wait_for_timeout(200)
    check(failed.count() > 0, "no failed delivery listed")
    failed.first.click()
    page.wait_for_url("**/console/deliveries/*")
    delivery_url = page.url
    check(page.get_by_text("Attempt 1: HTTP 500").count() == 1, "the failed attempt is not shown")
    page.get_by_role("button", name="Retry now").click()
    check(page.get_by_role("status").inner_text().startswith("Retry queued"), "no retry notice")
    for _ in range(50):
        if page.get_by_text("Attempt 2: HTTP 200").count() == 1:
            break
        page.wait_for_timeout(200)
        page.goto(delivery_url)
    check(page.get_by_text("Attempt 2: HTTP 200").count() == 1, "the retry made no new attempt")
    session.shot(screenshots, "delivery")

    # The audit log shows what was done above, and the API keys page mints a key once.
    session.goto(f"/console/orgs/{given['org']}/audit")
    check(page.get_by_text("ingress_event.replayed").count() > 0, "the replay is not in the audit log")
    session.shot(screenshots, "audit")
    session.goto(f"/console/orgs/{given['org']}/api-keys")
    page.get_by_label("Name").fill("dashboards")
    page.get_by_label("run:read").check()
    page.get_by_role("button", name="Mint key").click()
    check(page.locator("code.secret").inner_text().startswith("hg_"), "no new key shown")
    session.goto(f"/console/orgs/{given['org']}/api-keys")
    check(page.locator("code.secret").count() == 0, "the new key is shown again")
    session.shot(screenshots, "api-keys")

    session.sign_out()
    session.goto("/console")
    check(page.url.endswith("/console/sign-in"), "still signed in after sign-out")
    session.assert_clean("operator")
    session.close()


def zoomed_tour(browser, given):
    """A 1280x800 window zoomed to 200 %: 640x400 CSS pixels at twice the density."""
    session = Session(browser, given["base"], {"width": 640, "height": 400}, scale=2)
    page = session.page
    session.sign_in(given["operator_token"])
    # The overview counts the source's webhooks of the last hour, linked to its page.
    row = page.locator("section[aria-labelledby=ingress] tbody tr", has_text="console-source")
    check(row.count() == 1, "the overview does not count the source's webhooks")
    pages = [
        "/console",
        f"/console/orgs/{given['org']}",
        f"/console/orgs/{given['org']}/sources/{given['source_id']}",
        f"/console/events/{given['event_id']}",
        f"/console/runs/{given['run_id']}",
        f"/console/orgs/{given['org']}/endpoints",
        f"/console/endpoints/{given['endpoint_id']}",
        f"/console/orgs/{given['org']}/audit",
    ]
    for path in pages:
        session.goto(path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        check(overflow <= 0, f"{path} is {overflow}px wider than the window at 200 % zoom")
        heading = page.locator("h1").first
        check(heading.is_visible(), f"{path} shows no heading at 200 % zoom")
        # Every control stays reachable: the search box and sign-out are on the page.
        check(page.get_by_label("Find any id").is_visible(), f"{path} hides the search box")
    session.assert_clean("200 % zoom")
    session.close()


def read_only_tour(browser, given):
    session = Session(browser, given["base"], {"width": 1280, "height": 800})
    page = session.page
    session.sign_in(given["read_only_key"])
    check(not page.get_by_text("Outbox backlog").count(), "a key sees the instance's outbox")
    session.goto(f"/console/orgs/{given['org']}/sources/{given['source_id']}")
    check(page.get_by_text(given["event_id"]).count() > 0, "read-only key cannot read events")
    session.goto(f"/console/events/{given['event_id']}")
    check(page.get_by_role("heading", name="Lineage").is_visible(), "read-only key sees no lineage")
    check(not page.get_by_role("button", name="Replay as a new run").count(), "read-only key can replay")
    check(page.locator("form[method=post]").count() == 1, "a read-only key sees action forms")
    check(not page.get_by_role("button", name="Rotate secret").count(), "a read-only key can rotate")
    # A forged action from this signed-in browser, without the session's CSRF token.
    answer = page.request.post(given["base"] + "/console/sign-out", form={"csrf": "forged"})
    check(answer.status == 403, f"forged form answered {answer.status}")
    session.assert_clean("read-only key")
    session.close()


def main():
    screenshots = None
    if len(sys.argv) == 3 and sys.argv[1] == "--screenshots":
        screenshots = sys.argv[2]
        Path(screenshots).mkdir(parents=True, exist_ok=True)
    given = json.load(sys.stdin)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            operator_tour(browser, given, screenshots)
            zoomed_tour(browser, given)
            read_only_tour(browser, given)
        finally:
            browser.close()
    print("console browser checks passed")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as failure:
        print(f"console browser check failed: {failure}", file=sys.stderr)
        sys.exit(1)
