"""Every message exists in both languages, and lookups fall back sensibly."""

from __future__ import annotations

from pathcast.i18n import catalog, locale_from_accept_language, normalise_locale, translate


def test_both_locales_have_the_same_keys() -> None:
    english, chinese = set(catalog("en")), set(catalog("zh-CN"))
    assert english, "the English catalogue is empty"
    assert not english - chinese, f"missing in zh-CN: {sorted(english - chinese)}"
    assert not chinese - english, f"missing in en: {sorted(chinese - english)}"


def test_translate_fills_parameters_and_falls_back() -> None:
    assert "42" in translate("errors.not_found", "en", entity="deal", id=42)
    assert translate("no.such.key", "zh-CN") == "no.such.key"
    assert normalise_locale("en-US") == "en" and normalise_locale("zh-cn") == "zh-CN"
    assert locale_from_accept_language("fr;q=1, en-GB;q=0.8") == "en"
