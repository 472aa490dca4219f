"""The browser page of `ecrlink-agent --ui`, driven in a real browser (Playwright from PyPI with
Debian's chromium-headless-shell), against real processes: a bank simulator, the agent, and
tills (`ecrlink-sim sale`) whose exit status and JSON say what the till saw.

usage: python ui_test.py --agent BIN --sim BIN --browser CHROMIUM --rules RULES --shots DIR
       [SCENARIO ...]

Each scenario prints `ok NAME` or `FAIL NAME: why`; the exit status is the number of failures.
Screenshots of each state go to --shots.
"""

import argparse
import contextlib
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

    def __init__(self, sim, home, terminal, amount="12.50", timeout="60", kind="sale"):
        env = dict(os.environ, HOME=home)
        self.p = subprocess.Popen(
            [sim, kind, "--amount", amount, "--currency", "EUR", "--terminal", terminal,
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


MERCHANT_PIN = "4711"


def merchant_world(args, tmp):
    """A World whose agent asks the merchant PIN (MERCHANT_PIN, hashed by `hash-pin`) before a
    refund, a reversal or closing the totals; no --cards: the tester decides."""
    made = subprocess.run([args.agent, "hash-pin", "--iterations", "1000"],
                          input=MERCHANT_PIN + "\n", capture_output=True, text=True, timeout=60)
    check(made.returncode == 0 and made.stdout.startswith("merchant_pin_hash = "),
          f"hash-pin: {made.returncode} {made.stderr}")
    cfg = os.path.join(tmp, "agent.toml")
    with open(cfg, "w") as f:
        f.write("[policy]\n" + made.stdout)
    os.chmod(cfg, 0o600)
    return World(args, tmp, ["--config", cfg])


def ledger_auths(tmp):
    """The authorizations (sales, refunds) the bank simulator took, from its ledger file."""
    try:
        with open(os.path.join(tmp, "ledger.json")) as f:
            return json.load(f).get("auths") or []
    except FileNotFoundError:
        return []


def merchant_prompt(page, args, name, i=0):
    """Waits for the page to ask the merchant PIN for a refund; the prompt's field focused."""
    expect(screen(page, i)).to_have_attribute("data-stage", "merchant-pin", timeout=WAIT_MS)
    expect(screen(page, i)).to_contain_text("Merchant PIN")
    expect(screen(page, i)).to_contain_text("for refund")
    p = panel(page, i)
    field = p.get_by_label("Merchant PIN", exact=True)
    expect(field).to_be_visible()
    check(field.get_attribute("type") == "password", "merchant PIN field is not a password field")
    check(field.get_attribute("inputmode") == "numeric", "merchant PIN field: no numeric keypad")
    check(field.get_attribute("autocomplete") == "off", "merchant PIN field: autocomplete on")
    expect(field).to_be_focused()
    shot(page, args, name + "-merchant-pin")
    return field


@contextlib.contextmanager
def on_page(ctx, world):
    """A new page on `world`'s UI; the world's processes are stopped when the block ends,
    however it ends."""
    try:
        page = ctx.new_page()
        page.goto(world.url)
        yield page
    finally:
        world.procs.stop()


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
    with on_page(ctx, w) as page:
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


def wrong_pin(ctx, args, tmp):
    """A wrong PIN: declined 55, the till sees declined."""
    w = World(args, tmp)
    with on_page(ctx, w) as page:
        till = w.till()
        wait_card(page, args, "wrong-pin")
        present(page, pin="wrong")
        expect(screen(page)).to_have_attribute("data-outcome", "declined", timeout=WAIT_MS)
        expect(screen(page)).to_contain_text("Code 55")
        shot(page, args, "wrong-pin")
        code, j = till.result()
        check(code == 1 and j.get("outcome") == "declined", f"till: {code} {j}")


def bank_declines(ctx, args, tmp):
    """A card the bank declines with a chosen code (05): the till sees declined, code 05."""
    w = World(args, tmp)
    with on_page(ctx, w) as page:
        till = w.till()
        wait_card(page, args, "bank-declines")
        present(page, entry="contactless", decline="05")
        expect(screen(page)).to_have_attribute("data-outcome", "declined", timeout=WAIT_MS)
        expect(screen(page)).to_contain_text("Code 05")
        shot(page, args, "bank-declines")
        code, j = till.result()
        check(code == 1 and j.get("bank_code") == "05", f"till: {code} {j}")


def timeout(ctx, args, tmp):
    """Nobody presents a card: the terminal gives up at its transaction limit (8 s here)."""
    w = World(args, tmp, ["--txn-limit", "8s"])
    with on_page(ctx, w) as page:
        till = w.till()
        wait_card(page, args, "timeout")
        expect(screen(page)).to_contain_text("s left")
        expect(screen(page)).to_have_attribute("data-stage", "answer", timeout=WAIT_MS)
        expect(screen(page)).to_contain_text("TIMEOUT")
        shot(page, args, "timeout")
        code, j = till.result()
        check(code == 3 and j.get("outcome") == "timeout", f"till: {code} {j}")


def cancel(ctx, args, tmp):
    """Cancel on the terminal while it waits for the card: the till sees cancelled."""
    w = World(args, tmp)
    with on_page(ctx, w) as page:
        till = w.till()
        wait_card(page, args, "cancel")
        panel(page).get_by_role("button", name="Cancel on the terminal").click()
        expect(screen(page)).to_contain_text("CANCELLED", timeout=WAIT_MS)
        shot(page, args, "cancel")
        code, j = till.result()
        check(code == 6 and j.get("outcome") == "cancelled", f"till: {code} {j}")


def bank_offline(ctx, args, tmp):
    """The tester takes the bank link offline: the till sees bank unavailable (at once: the
    terminal knows its link is down); back to normal, the next sale is approved."""
    w = World(args, tmp)
    with on_page(ctx, w) as page:
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


def sleep_wake(ctx, args, tmp):
    """Sleep from the page: the screen goes dark and a till finds no terminal; wake: idle."""
    w = World(args, tmp)
    with on_page(ctx, w) as page:
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


def two_terminals(ctx, args, tmp):
    """`ecrlink-sim demo --ui --terminals 2`: two terminals on one page, each driven on its own;
    a refund asks the demo's merchant PIN (which the demo prints) on the page."""
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
        # The demo sets a merchant PIN and says it: a refund asks it on the page.
        check(any(MERCHANT_PIN in l for l in lines), f"the demo does not say its PIN: {lines}")
        r0 = Till(args.sim, tmp, tills[0], amount="2.00", kind="refund")
        merchant_prompt(page, args, "two-terminals", 0)
        page.keyboard.type(MERCHANT_PIN)
        page.keyboard.press("Enter")
        expect(screen(page, 0)).to_have_attribute("data-stage", "present-card", timeout=WAIT_MS)
        present(page, 0, entry="swipe")
        expect(screen(page, 0)).to_have_attribute("data-outcome", "approved", timeout=WAIT_MS)
        code, j = r0.result()
        check(code == 0 and j.get("outcome") == "approved", f"refund at till 0: {code} {j}")
    finally:
        procs.stop()


def bank_slow(ctx, args, tmp):
    """A slow bank link (3 s): the page shows "contacting bank" meanwhile; then approved."""
    w = World(args, tmp)
    with on_page(ctx, w) as page:
        p = panel(page)
        p.get_by_label("Link", exact=True).select_option("slow")
        p.get_by_label("Delay when slow, ms", exact=True).fill("3000")
        p.get_by_role("button", name="Apply").click()
        expect(p.locator(".bank-state")).to_have_text("Now: slow (3000 ms)", timeout=WAIT_MS)
        till = w.till()
        wait_card(page, args, "bank-slow")
        present(page, entry="contactless")
        expect(screen(page)).to_have_attribute("data-stage", "contacting-bank", timeout=WAIT_MS)
        expect(screen(page)).to_contain_text("Contacting bank")
        shot(page, args, "bank-slow-contacting-bank")
        expect(screen(page)).to_have_attribute("data-outcome", "approved", timeout=WAIT_MS)
        code, j = till.result()
        check(code == 0, f"till: {code} {j}")


def remove_card(ctx, args, tmp):
    """The card taken out during PIN entry: the read fails, the till is told it was not done."""
    w = World(args, tmp)
    with on_page(ctx, w) as page:
        till = w.till()
        wait_card(page, args, "remove-card")
        present(page)
        expect(screen(page)).to_have_attribute("data-stage", "pin-entry", timeout=WAIT_MS)
        panel(page).get_by_role("button", name="Remove card").click()
        expect(screen(page)).to_have_attribute("data-stage", "answer", timeout=WAIT_MS)
        expect(screen(page)).not_to_have_attribute("data-outcome", "approved")
        shot(page, args, "remove-card")
        code, j = till.result()
        check(code not in (0, 3), f"till after the card was removed: {code} {j}")


def cut_till(ctx, args, tmp):
    """The till's connection cut while the terminal waits for the card: the till does not
    report approved; the terminal's sale goes on and its answer is on the page."""
    w = World(args, tmp)
    with on_page(ctx, w) as page:
        till = w.till()
        wait_card(page, args, "cut-till")
        panel(page).get_by_role("button", name="Cut the till's connection").click()
        code, j = till.result()
        check(code != 0 and j.get("outcome") != "approved", f"till after the cut: {code} {j}")
        expect(screen(page)).to_have_attribute("data-stage", "present-card")
        present(page, entry="swipe")
        expect(screen(page)).to_have_attribute("data-outcome", "approved", timeout=WAIT_MS)
        shot(page, args, "cut-till")


def merchant_pin(ctx, args, tmp):
    """A refund from the till: the page asks the merchant PIN; the tester types it (keyboard
    only) and confirms; then presents the card: the till sees approved, the bank has the refund.
    The PIN is never shown or kept on the page."""
    w = merchant_world(args, tmp)
    with on_page(ctx, w) as page:
        till = w.till(kind="refund", amount="5.00")
        field = merchant_prompt(page, args, "merchant-pin")
        # Typed with the keyboard into the focused field, Enter confirms.
        page.keyboard.type(MERCHANT_PIN)
        page.keyboard.press("Enter")
        wait_card(page, args, "merchant-pin")
        check(field.input_value() == "", "the PIN stayed in the field")
        expect(panel(page).locator(".merchant-form")).to_be_hidden()
        check(MERCHANT_PIN not in page.content(), "the merchant PIN is on the page")
        present(page, entry="contactless")
        expect(screen(page)).to_have_attribute("data-outcome", "approved", timeout=WAIT_MS)
        shot(page, args, "merchant-pin")
        code, j = till.result()
        check(code == 0 and j.get("outcome") == "approved", f"till: {code} {j}")
        auths = ledger_auths(tmp)
        check(len(auths) == 1, f"the bank's ledger: {auths}")
        with open(os.path.join(tmp, "agent.log"), "rb") as f:
            check(MERCHANT_PIN.encode() not in f.read(), "the merchant PIN is in the agent's log")


def merchant_wrong_pin(ctx, args, tmp):
    """A wrong merchant PIN on the page: the till is refused ("wrong merchant PIN"), no card is
    asked and nothing reaches the bank; a cancel on the prompt refuses the next one too."""
    w = merchant_world(args, tmp)
    with on_page(ctx, w) as page:
        till = w.till(kind="refund", amount="5.00")
        field = merchant_prompt(page, args, "merchant-wrong-pin")
        field.fill("1234")
        panel(page).get_by_role("button", name="Confirm", exact=True).click()
        expect(screen(page)).to_have_attribute("data-stage", "answer", timeout=WAIT_MS)
        expect(screen(page)).to_contain_text("wrong merchant PIN")
        shot(page, args, "merchant-wrong-pin")
        code, j = till.result()
        check(code != 0 and j.get("outcome") == "failed"
              and j.get("reason") == "wrong merchant PIN", f"till: {code} {j}")
        # The Cancel button of the prompt.
        till = w.till(kind="refund", amount="5.00")
        merchant_prompt(page, args, "merchant-cancel")
        panel(page).get_by_role("button", name="Cancel", exact=True).click()
        expect(screen(page)).to_have_attribute("data-stage", "answer", timeout=WAIT_MS)
        expect(screen(page)).to_contain_text("CANCELLED")
        code, j = till.result()
        check(code == 6 and j.get("outcome") == "cancelled", f"till after cancel: {code} {j}")
        # Escape in the field cancels too (keyboard only).
        till = w.till(kind="refund", amount="5.00")
        merchant_prompt(page, args, "merchant-escape")
        page.keyboard.press("Escape")
        expect(screen(page)).to_contain_text("CANCELLED", timeout=WAIT_MS)
        code, j = till.result()
        check(code == 6 and j.get("outcome") == "cancelled", f"till after Escape: {code} {j}")
        check(ledger_auths(tmp) == [], f"the bank got: {ledger_auths(tmp)}")


SCENARIOS = {
    "approved": approved,
    "wrong-pin": wrong_pin,
    "bank-declines": bank_declines,
    "timeout": timeout,
    "cancel": cancel,
    "bank-offline": bank_offline,
    "sleep-wake": sleep_wake,
    "bank-slow": bank_slow,
    "remove-card": remove_card,
    "cut-till": cut_till,
    "two-terminals": two_terminals,
    "merchant-pin": merchant_pin,
    "merchant-wrong-pin": merchant_wrong_pin,
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
