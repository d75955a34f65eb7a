"""The feldsher, the consultant and the coordinator on a 390×844 phone and on a desktop, in
Russian, Korean and English. Every key page (login, home, the worklist or the coordinator's
board, the patient search, the request form, the case page) passes axe-core with no violation.
On the phone nothing scrolls sideways, the header stays a strip at the top with the menu folded
into it, every control is at least a 44 px target, and the NEWS2 box stays on screen while the
vital signs are typed."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from farcare.consults.models import Consultation

from .conftest import WORDS, log_in

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
HEADER_SHARE = 0.12  # of the phone screen's height
TARGET_PX = 44
LOCALES = {"ru": "ru-RU", "ko": "ko-KR", "en": "en-US"}
MENU = {"ru": "Меню", "ko": "메뉴", "en": "Menu"}
SEARCH = "Тынетегин"

# Every control a finger may aim at, measured as the finger meets it: a radio button or a
# checkbox is as big as its label. Links inside running text (the block around them has words of
# its own) are left out, as WCAG 2.5.8 leaves out inline targets: their size is the line's.
SMALL_TARGETS = """(minimum) => {
  const words = /\\p{L}/u;
  const shown = (el) => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && getComputedStyle(el).visibility !== "hidden";
  };
  const inRunningText = (link) => {
    let block = link.parentElement;
    while (getComputedStyle(block).display.startsWith("inline")) block = block.parentElement;
    if (/flex|grid/.test(getComputedStyle(block).display)) return false;
    const rest = block.cloneNode(true);
    rest.querySelectorAll("a, button, input, select, textarea, label").forEach((n) => n.remove());
    return words.test(rest.textContent);
  };
  const small = [];
  const controls = "a[href], button, summary, select, textarea, input:not([type=hidden])";
  for (const control of document.querySelectorAll(controls)) {
    const target = control.matches("[type=checkbox], [type=radio]") && control.labels.length
      ? control.labels[0] : control;
    if (!shown(target) || (control.matches("a") && inRunningText(control))) continue;
    const box = target.getBoundingClientRect();
    if (box.width < minimum - 0.5 || box.height < minimum - 0.5) {
      const name = target.innerText || target.value || target.getAttribute("aria-label") || "";
      small.push(`<${control.tagName.toLowerCase()}> "${name.trim().slice(0, 40)}" ` +
        `${Math.round(box.width)}×${Math.round(box.height)}`);
    }
  }
  return small;
}"""

IN_VIEW = """(selector) => {
  const box = document.querySelector(selector).getBoundingClientRect();
  return box.height > 0 && box.top >= 0 && box.bottom <= window.innerHeight;
}"""


class Findings:
    """What is wrong, page by page: the test fails once, listing all of it."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def add(self, where: str, what: str) -> None:
        self.problems.append(f"{where}: {what}")

    def report(self) -> str:
        return f"{len(self.problems)} problem(s):\n\n" + "\n\n".join(self.problems)


def audit(page: Any, where: str, findings: Findings) -> None:
    results = Axe().run(page)
    if results.violations_count:
        findings.add(where, f"axe-core: {results.generate_report()}")


def phone_checks(page: Any, where: str, findings: Findings) -> None:
    width = page.evaluate("document.scrollingElement.scrollWidth")
    if width > PHONE["width"]:
        findings.add(where, f"scrolls sideways: {width} px wide on a {PHONE['width']} px screen")
    header = page.locator("body > header").bounding_box()
    if header["height"] > HEADER_SHARE * PHONE["height"]:
        findings.add(where, f"the header is {header['height']:.0f} px tall")
    small = page.evaluate(SMALL_TARGETS, TARGET_PX)
    if small:
        findings.add(where, "targets under 44 px: " + "; ".join(small))


Extra = Callable[[Any, str, Findings], None]


def check_page(page: Any, path: str, where: str, findings: Findings, phone: Extra | None = None):
    """The page on the phone, then on the desktop."""
    for screen, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(viewport)
        page.goto(path)
        page.wait_for_load_state()
        here = f"{where} ({path}) on the {screen}"
        audit(page, here, findings)
        if screen == "phone":
            phone_checks(page, here, findings)
            if phone is not None:
                phone(page, here, findings)


def menu_opens(language: str) -> Extra:
    """The header's menu opens on a tap and shows the navigation, with 44 px targets."""

    def check(page: Any, where: str, findings: Findings) -> None:
        nav = page.locator("body > header nav")
        if nav.is_visible():
            findings.add(where, "the navigation shows before the menu is opened")
        menu = page.locator("body > header summary")
        expect(menu).to_have_text(re.compile(MENU[language]))
        menu.click()
        expect(nav).to_be_visible()
        expect(
            page.get_by_role("button", name=WORDS[language]["Log out"], exact=True)
        ).to_be_visible()
        small = page.evaluate(SMALL_TARGETS, TARGET_PX)
        if small:
            findings.add(where + " with the menu open", "targets under 44 px: " + "; ".join(small))
        audit(page, where + " with the menu open", findings)

    return check


def news2_stays_in_view(page: Any, where: str, findings: Findings) -> None:
    """While the first and the last vital sign are typed, the NEWS2 box is on the screen."""
    vitals = page.locator("input.vital")
    for which, field in (("first", vitals.first), ("last", vitals.last)):
        field.focus()
        field.fill("20")
        if not page.evaluate(IN_VIEW, "#news2"):
            findings.add(where, f"the NEWS2 box is off screen while the {which} vital is typed")


def the_cases() -> dict[str, Consultation]:
    """The demo's Uelen emergency waiting for its consultant, and its concluded predecessor."""
    waiting = Consultation.objects.get(requester__username="feldsher", status="requested")
    concluded = Consultation.objects.filter(requester__username="feldsher", status="completed")
    return {"waiting": waiting, "concluded": concluded.first()}


ROLES = ("feldsher", "consultant", "coordinator")


@pytest.mark.parametrize("language", list(LOCALES))
@pytest.mark.parametrize("role", ROLES)
def test_key_pages_fit_a_phone_and_pass_axe(demo, new_context, role, language):
    cases = the_cases()
    waiting = cases["waiting"]
    username = {
        "feldsher": "feldsher",
        "coordinator": "coordinator",
        # Whoever was on duty when the demo was loaded holds the emergency.
        "consultant": waiting.assignments.get(ended_at__isnull=True).consultant.username,
    }[role]
    findings = Findings()
    context = new_context(locale=LOCALES[language])
    if role == "feldsher":
        check_page(context.new_page(), "/accounts/login/", "login", findings)
    page = log_in(context, username, language=language)
    check_page(page, "/", f"{role}'s home", findings, phone=menu_opens(language))
    check_page(page, "/consultations/", f"{role}'s worklist", findings)
    check_page(page, f"/patients/?q={SEARCH}", "patient search", findings)
    patient, concluded = waiting.patient.uuid, cases["concluded"].uuid
    if role == "feldsher":
        check_page(page, f"/patients/{patient}/", "patient record", findings)
        check_page(
            page,
            f"/consultations/new/{patient}/",
            "request form",
            findings,
            phone=news2_stays_in_view,
        )
        check_page(page, f"/consultations/{concluded}/", "case page, concluded", findings)
    else:
        check_page(page, f"/consultations/{waiting.uuid}/", "case page, waiting", findings)
    if role == "consultant":
        # Concluded by the same cardiologist: the form to amend the conclusion is on it.
        check_page(page, f"/consultations/{concluded}/", "case page, concluded", findings)

    assert not findings.problems, findings.report()
