"""A feldsher going to work in Yakutia finds its zone by the town's Russian name, as they type,
and every time is then shown there, with its Moscow offset."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import log_in

pytestmark = pytest.mark.browser


def test_a_zone_found_by_typing_a_towns_name_is_saved_and_used(demo, new_context):
    page = log_in(new_context(locale="ru-RU"), "feldsher", language="ru")
    expect(page.get_by_test_id("zone")).to_have_text("Asia/Anadyr, UTC+12, МСК+9")
    page.goto("/accounts/preferences/")
    picker = page.get_by_test_id("zone-picker")
    # The network's zones are offered at once, the facility's own checked.
    expect(picker.get_by_label("Часовой пояс моего учреждения", exact=False)).to_be_checked()
    expect(picker.get_by_label("Asia/Yakutsk", exact=False)).to_be_visible()

    page.get_by_label("Найти другой часовой пояс").press_sequentially("Якут", delay=50)
    found = page.get_by_test_id("zone-results").get_by_label("Asia/Yakutsk", exact=False)
    expect(found).to_be_visible()
    expect(page.get_by_test_id("zone-results")).to_contain_text("Якутск")
    found.check()
    page.get_by_role("button", name="Сохранить", exact=True).click()

    expect(page.get_by_text("Настройки сохранены.")).to_be_visible()
    expect(page.get_by_test_id("zone")).to_have_text("Asia/Yakutsk, UTC+9, МСК+6")
