"""The browser page of `ecrlink-agent --ui`, driven in a real browser (Playwright from PyPI with
Debian's chromium-headless-shell), against real processes: a bank simulator, the agent, and
tills (`ecrlink-sim sale`) whose exit status and JSON say what the till saw.

usage: python ui_test.py --agent BIN --sim BIN --browser CHROMIUM --rules RULES --shots DIR
       [SCENARIO ...]

Each scenario prints `ok NAME` or `FAIL NAME: why`; the exit status is the number of failures.
Screenshots of each state go to --shots.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request

from playwright.sync_api import expect, sync_playwright

# Generous: the machine may be loaded (2 cores, several builds).
WAIT_MS = 30_000
FULL_PAN = "4761739001010119"


class Procs:
    """Processes started by a scenario, stopped at its end."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.children = []

    def start(self, args, name):
        log = open(os.path.join(self.tmp, name + ".log"), "wb")
        child = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, text=True
        )
        self.children.append(child)
        lines = []
        deadline = time.time() + 60
        while time.time() < deadline:
            line = child.stdout.readline()
            if not line:
                raise RuntimeError(f"{name} ended before READY: {lines} (see {log.name})")
            line = line.rstrip("\n")
            if line == "READY":
                return lines
            lines.append(line)
        raise RuntimeError(f"{name}: no READY in time: {lines}")

    def stop(self):
        for c in reversed(self.children):
            if c.poll() is None:
                c.terminate()
        for c in self.children:
            try:
                c.wait(timeout=20)
            except subprocess.TimeoutExpired:
                c.kill()


def listen(lines, dialect):
    for l in lines:
        parts = l.split()
        if parts[0] == "LISTEN" and parts[1] == dialect:
            return parts[2]
    raise RuntimeError(f"no {dialect} listener in {lines}")


def ui_url(lines):
    for l in lines:
        if l.startswith("UI "):
            return l[3:]
    raise RuntimeError(f"no UI line in {lines}")


class Till:
    """One `ecrlink-sim sale` running in the background."""

    def __init__(self, sim, home, terminal, amount="12.50", timeout="60"):
        env = dict(os.environ, HOME=home)
        self.p = subprocess.Popen(
            [sim, "sale", "--amount", amount, "--currency", "EUR", "--terminal", terminal,
             "--dialect", "csob", "--json", "--timeout", timeout],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
            text=True, env=env,
        )

    def result(self, limit=90):
        out, err = self.p.communicate(timeout=limit)
        try:
            j = json.loads(out)
        except ValueError:
            j = {"raw": out, "stderr": err}
        return self.p.returncode, j


class World:
    """A bank with the test cards' rules and one agent with --ui."""

    def __init__(self, args, tmp, extra=()):
        self.args = args
        self.tmp = tmp
        self.procs = Procs(tmp)
        bank = self.procs.start(
            [args.sim, "bank", "--listen", "127.0.0.1:0", "--rules", args.rules,
             "--ledger", os.path.join(tmp, "ledger.json")], "bank")
        bank_addr = bank[0].split()[1] if bank[0].startswith("LISTEN") else bank[0]
        lines = self.procs.start(
            [args.agent, "--listen", "csob@127.0.0.1:0", "--bank", bank_addr,
             "--ui", "127.0.0.1:0", "--journal", os.path.join(tmp, "journal"),
             "--printer", "file:" + os.path.join(tmp, "receipts.txt"), *extra], "agent")
        self.till_addr = listen(lines, "csob")
        self.url = ui_url(lines)

    def till(self, **kw):
        return Till(self.args.sim, self.tmp, self.till_addr, **kw)


def shot(page, args, name):
    page.screenshot(path=os.path.join(args.shots, name + ".png"), full_page=True)


def panel(page, i=0):
    return page.locator(f"#terminal-{i}")


def screen(page, i=0):
    return panel(page, i).locator(".screen")


def present(page, i=0, entry="chip", scheme="visa", pin="right", decline=""):
    p = panel(page, i)
    p.get_by_label("Card read by", exact=True).select_option(entry)
    p.get_by_label("Scheme", exact=True).select_option(scheme)
    p.get_by_label("PIN", exact=True).select_option(pin)
    p.get_by_label("Bank answer", exact=True).select_option(decline)
    p.get_by_role("button", name="Present card").click()


def wait_card(page, args, name, i=0):
    expect(screen(page, i)).to_have_attribute("data-stage", "present-card", timeout=WAIT_MS)
    expect(screen(page, i)).to_contain_text("Present card")
    shot(page, args, name + "-present-card")


def check(cond, what):
    if not cond:
        raise AssertionError(what)


# ---------------------------------------------------------------- scenarios


def approved(ctx, args, tmp):
    """A tester presents a card (by keyboard only) and the till sees approved; the page shows
    the approval, the last transactions and the receipt as printed (PAN masked)."""
    w = World(args, tmp, ["--merchant-name", '<b id="xss">Shop</b>'])
    try:
        page = ctx.new_page()
        page.goto(w.url)
        till = w.till()
        wait_card(page, args, "approved")
        expect(screen(page)).to_contain_text("12.50 EUR")
        # Keyboard only: Tab to the "Present card" button, Enter.
        p = panel(page)
        p.get_by_label("Card read by", exact=True).focus()
        for _ in range(40):
            if page.evaluate("document.activeElement && document.activeElement.textContent") == "Present card":
                break
            page.keyboard.press("Tab")
        check(page.evaluate("document.activeElement.textContent") == "Present card",
              "Present card not reachable by Tab")
        page.keyboard.press("Enter")
        expect(screen(page)).to_have_attribute("data-stage", "pin-entry", timeout=WAIT_MS)
        shot(page, args, "approved-pin-entry")
        expect(screen(page)).to_have_attribute("data-outcome", "approved", timeout=WAIT_MS)
        expect(screen(page)).to_contain_text("APPROVED")
        code, j = till.result()
        check(code == 0 and j.get("outcome") == "approved", f"till: {code} {j}")
        expect(screen(page)).to_contain_text("Approval code " + j["approval_code"])
        first = p.locator(".history li").first
        expect(first).to_contain_text("APPROVED", timeout=WAIT_MS)
        first.get_by_text("Receipt as printed").click()
        receipt = first.locator("pre.receipt")
        expect(receipt).to_contain_text("476173******0119", timeout=WAIT_MS)
        # The merchant name is markup: shown as text, never made an element.
        expect(receipt).to_contain_text('<b id="xss">Shop</b>')
        check(page.locator("#xss").count() == 0, "merchant name became HTML")
        check(FULL_PAN not in page.content(), "full PAN on the page")
        shot(page, args, "approved")
        # Phone width: nothing wider than 360 px.
        page.set_viewport_size({"width": 360, "height": 740})
        width = page.evaluate("document.documentElement.scrollWidth")
        check(width <= 360, f"page {width} px wide at 360 px")
        shot(page, args, "approved-360px")
        # Every form control has a label.
        unlabelled = page.evaluate(
            "Array.from(document.querySelectorAll('#terminals select, #terminals input, #terminals button'))"
            ".filter(e => !(e.labels && e.labels.length) && !e.textContent.trim() && !e.getAttribute('aria-label')).length")
        check(unlabelled == 0, f"{unlabelled} controls without a label")
        # Without the right Host header (DNS rebinding) the data is refused.
        req = urllib.request.Request(w.url + "api/terminals", headers={"Host": "evil.example"})
        try:
            urllib.request.urlopen(req, timeout=10)
            check(False, "foreign Host accepted")
        except urllib.error.HTTPError as e:
            check(e.code == 403, f"foreign Host: HTTP {e.code}")
    finally:
        w.procs.stop()


def wrong_pin(ctx, args, tmp):
    """A wrong PIN: declined 55, the till sees declined."""
    w = World(args, tmp)
    try:
        page = ctx.new_page()
        page.goto(w.url)
        till = w.till()
        wait_card(page, args, "wrong-pin")
        present(page, pin="wrong")
        expect(screen(page)).to_have_attribute("data-outcome", "declined", timeout=WAIT_MS)
        expect(screen(page)).to_contain_text("Code 55")
        shot(page, args, "wrong-pin")
        code, j = till.result()
        check(code == 1 and j.get("outcome") == "declined", f"till: {code} {j}")
    finally:
        w.procs.stop()


def bank_declines(ctx, args, tmp):
    """A card the bank declines with a chosen code (05): the till sees declined, code 05."""
    w = World(args, tmp)
    try:
        page = ctx.new_page()
        page.goto(w.url)
        till = w.till()
        wait_card(page, args, "bank-declines")
        present(page, entry="contactless", decline="05")
        expect(screen(page)).to_have_attribute("data-outcome", "declined", timeout=WAIT_MS)
        expect(screen(page)).to_contain_text("Code 05")
        shot(page, args, "bank-declines")
        code, j = till.result()
        check(code == 1 and j.get("bank_code") == "05", f"till: {code} {j}")
    finally:
        w.procs.stop()


def timeout(ctx, args, tmp):
    """Nobody presents a card: the terminal gives up at its transaction limit (8 s here)."""
    w = World(args, tmp, ["--txn-limit", "8s"])
    try:
        page = ctx.new_page()
        page.goto(w.url)
        till = w.till()
        wait_card(page, args, "timeout")
        expect(screen(page)).to_contain_text("s left")
        expect(screen(page)).to_have_attribute("data-stage", "answer", timeout=WAIT_MS)
        expect(screen(page)).to_contain_text("TIMEOUT")
        shot(page, args, "timeout")
        code, j = till.result()
        check(code == 3 and j.get("outcome") == "timeout", f"till: {code} {j}")
    finally:
        w.procs.stop()


def cancel(ctx, args, tmp):
    """Cancel on the terminal while it waits for the card: the till sees cancelled."""
    w = World(args, tmp)
    try:
        page = ctx.new_page()
        page.goto(w.url)
        till = w.till()
        wait_card(page, args, "cancel")
        panel(page).get_by_role("button", name="Cancel on the terminal").click()
        expect(screen(page)).to_contain_text("CANCELLED", timeout=WAIT_MS)
        shot(page, args, "cancel")
        code, j = till.result()
        check(code == 6 and j.get("outcome") == "cancelled", f"till: {code} {j}")
    finally:
        w.procs.stop()


def bank_offline(ctx, args, tmp):
    """The tester takes the bank link offline: the till sees bank unavailable (at once: the
    terminal knows its link is down); back to normal, the next sale is approved."""
    w = World(args, tmp)
    try:
        page = ctx.new_page()
        page.goto(w.url)
        p = panel(page)
        p.get_by_label("Link", exact=True).select_option("offline")
        p.get_by_role("button", name="Apply").click()
        expect(p.locator(".bank-state")).to_have_text("Now: offline", timeout=WAIT_MS)
        # The terminal knows its link is down: it answers before asking for a card.
        till = w.till()
        expect(screen(page)).to_contain_text("BANK UNAVAILABLE", timeout=WAIT_MS)
        shot(page, args, "bank-offline")
        code, j = till.result()
        check(code == 5 and j.get("outcome") == "bank-unavailable", f"till: {code} {j}")
        p.get_by_label("Link", exact=True).select_option("normal")
        p.get_by_role("button", name="Apply").click()
        expect(p.locator(".bank-state")).to_have_text("Now: normal", timeout=WAIT_MS)
        till = w.till(amount="3.00")
        wait_card(page, args, "bank-back")
        present(page, entry="swipe", scheme="mastercard")
        expect(screen(page)).to_have_attribute("data-outcome", "approved", timeout=WAIT_MS)
        code, j = till.result()
        check(code == 0 and j.get("outcome") == "approved", f"till after offline: {code} {j}")
    finally:
        w.procs.stop()


def sleep_wake(ctx, args, tmp):
    """Sleep from the page: the screen goes dark and a till finds no terminal; wake: idle."""
    w = World(args, tmp)
    try:
        page = ctx.new_page()
        page.goto(w.url)
        p = panel(page)
        expect(screen(page)).to_have_attribute("data-power", "awake", timeout=WAIT_MS)
        p.get_by_role("button", name="Sleep").click()
        expect(screen(page)).to_have_attribute("data-power", "asleep", timeout=WAIT_MS)
        expect(screen(page)).to_contain_text("Asleep")
        shot(page, args, "asleep")
        code, j = w.till(timeout="5").result()
        check(code == 4, f"till against a sleeping terminal: {code} {j}")
        p.get_by_role("button", name="Wake").click()
        expect(screen(page)).to_have_attribute("data-power", "awake", timeout=WAIT_MS)
        expect(screen(page)).to_have_attribute("data-stage", "idle")
    finally:
        w.procs.stop()


def two_terminals(ctx, args, tmp):
    """`ecrlink-sim demo --ui --terminals 2`: two terminals on one page, each driven on its own."""
    procs = Procs(tmp)
    try:
        lines = procs.start([args.sim, "demo", "--ui", "127.0.0.1:0", "--terminals", "2",
                             "--no-log"], "demo")
        tills = [l.split()[2] for l in lines if l.startswith("LISTEN csob ")]
        check(len(tills) == 2, f"two ČSOB terminals: {lines}")
        url = ui_url(lines)
        page = ctx.new_page()
        page.goto(url)
        expect(page.locator("section.terminal")).to_have_count(2, timeout=WAIT_MS)
        t0 = Till(args.sim, tmp, tills[0], amount="4.00")
        t1 = Till(args.sim, tmp, tills[1], amount="7.00")
        for i in (0, 1):
            expect(screen(page, i)).to_have_attribute("data-stage", "present-card", timeout=WAIT_MS)
        expect(screen(page, 0)).to_contain_text("4.00 EUR")
        expect(screen(page, 1)).to_contain_text("7.00 EUR")
        shot(page, args, "two-terminals-present-card")
        present(page, 1, entry="contactless", scheme="mastercard")
        expect(screen(page, 1)).to_have_attribute("data-outcome", "approved", timeout=WAIT_MS)
        code, j = t1.result()
        check(code == 0 and j.get("outcome") == "approved", f"till 1: {code} {j}")
        # The other terminal still waits for its card.
        expect(screen(page, 0)).to_have_attribute("data-stage", "present-card")
        panel(page, 0).get_by_role("button", name="Cancel on the terminal").click()
        expect(screen(page, 0)).to_contain_text("CANCELLED", timeout=WAIT_MS)
        code, j = t0.result()
        check(code == 6, f"till 0: {code} {j}")
        shot(page, args, "two-terminals")
    finally:
        procs.stop()


SCENARIOS = {
    "approved": approved,
    "wrong-pin": wrong_pin,
    "bank-declines": bank_declines,
    "timeout": timeout,
    "cancel": cancel,
    "bank-offline": bank_offline,
    "sleep-wake": sleep_wake,
    "two-terminals": two_terminals,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--agent", required=True)
    ap.add_argument("--sim", required=True)
    ap.add_argument("--browser", required=True)
    ap.add_argument("--rules", required=True)
    ap.add_argument("--shots", required=True)
    ap.add_argument("scenario", nargs="*")
    args = ap.parse_args()
    os.makedirs(args.shots, exist_ok=True)
    names = args.scenario or list(SCENARIOS)
    failures = 0
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=args.browser, args=["--no-sandbox"])
        for name in names:
            ctx = browser.new_context(viewport={"width": 1000, "height": 900})
            with tempfile.TemporaryDirectory(prefix="ecrlink-ui-") as tmp:
                try:
                    SCENARIOS[name](ctx, args, tmp)
                    print(f"ok {name}", flush=True)
                except Exception as e:  # noqa: BLE001 - every failure is reported
                    failures += 1
                    print(f"FAIL {name}: {e}", flush=True)
                    traceback.print_exc()
                    for f in ("agent.log", "bank.log", "demo.log"):
                        p = os.path.join(tmp, f)
                        if os.path.exists(p):
                            print(f"--- {f} (tail)", file=sys.stderr)
                            with open(p, "rb") as fh:
                                sys.stderr.write(fh.read()[-3000:].decode("utf-8", "replace"))
                finally:
                    ctx.close()
        browser.close()
    return failures


if __name__ == "__main__":
    sys.exit(main())
