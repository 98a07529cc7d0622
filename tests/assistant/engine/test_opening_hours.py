"""Opening hours (opening_hours.py): parsed from the API's dict or the CLI's text, refused when malformed, and the
next opening told in the site's zone, across a weekend, a week and a daylight-saving change."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from assistant.engine.opening_hours import OpeningHours, OpeningHoursError, parse_hours, validate_hours

AMSTERDAM = {"timezone": "Europe/Amsterdam", "weekly": {"mon": ["09:00-12:30", "13:30-17:00"], "tue": ["09:00-17:00"],
                                                        "wed": ["09:00-17:00"], "thu": ["09:00-17:00"],
                                                        "fri": ["09:00-17:00"], "sat": ["10:00-14:00"]}}


def test_text_and_dict_forms_are_the_same_hours() -> None:
    text = "Europe/Amsterdam mon 09:00-12:30,13:30-17:00; tue-fri 09:00-17:00; sat 10:00-14:00"
    assert validate_hours(text) == validate_hours(AMSTERDAM) == AMSTERDAM
    assert validate_hours("") is None and validate_hours(None) is None  # unset: always open


@pytest.mark.parametrize(("value", "says"), [
    ("Mars/Olympus mon-fri 09:00-17:00", "unknown time zone"),
    ({"timezone": "Europe/Amsterdam", "weekly": {"mon": ["9-5"]}}, "not an interval"),
    ({"timezone": "Europe/Amsterdam", "weekly": {"mon": ["17:00-09:00"]}}, "ends before it starts"),
    ({"timezone": "Europe/Amsterdam", "weekly": {"mon": ["09:00-13:00", "12:00-17:00"]}}, "overlap"),
    ({"timezone": "Europe/Amsterdam", "weekly": {"funday": ["09:00-17:00"]}}, "unknown day"),
    ({"timezone": "Europe/Amsterdam", "weekly": {}}, "at least one day"),
    ({"weekly": {"mon": ["09:00-17:00"]}}, "IANA time zone"),
    ("Europe/Amsterdam fri-mon 09:00-17:00", "runs backwards"),
    ({"timezone": "UTC", "weekly": {"mon": ["24:00-24:00"]}}, "not an interval"),
])
def test_malformed_hours_are_refused_with_the_reason(value: object, says: str) -> None:
    with pytest.raises(OpeningHoursError, match=says):
        validate_hours(value)


def test_outside_hours_the_customer_is_told_the_next_opening_in_the_sites_zone() -> None:
    hours = parse_hours(AMSTERDAM)
    # Saturday 5 December 2026, 15:30 in Amsterdam (14:30 UTC): closed until Monday 09:00.
    saturday = datetime(2026, 12, 5, 14, 30, tzinfo=UTC)
    assert not hours.is_open(saturday)
    assert hours.next_opening(saturday).isoformat() == "2026-12-07T09:00:00+01:00"
    assert hours.after_hours_message(saturday).startswith(
        "Our team is offline right now and back on Monday at 09:00 (Europe/Amsterdam).")
    # Monday's lunch break: back today; Monday evening: back tomorrow.
    assert "back today at 13:30" in hours.after_hours_message(datetime(2026, 12, 7, 12, 0, tzinfo=UTC))
    assert "back tomorrow at 09:00" in hours.after_hours_message(datetime(2026, 12, 7, 17, 0, tzinfo=UTC))
    # Open: no after-hours message (the site's own handoff message is said).
    monday_morning = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)  # 09:30 in Amsterdam
    assert hours.is_open(monday_morning) and hours.after_hours_message(monday_morning) is None


def test_a_week_ahead_names_the_date_and_a_daylight_saving_change_keeps_the_wall_clock() -> None:
    weekly = parse_hours({"timezone": "Europe/Amsterdam", "weekly": {"sun": ["01:00-02:00"]}})
    after = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # Sunday 29 March 2026 03:30 CEST: today's hour is over
    assert weekly.after_hours_message(after).startswith("Our team is offline right now and back on Sunday 5 April "
                                                        "at 01:00 (Europe/Amsterdam).")
    summer = parse_hours({"timezone": "Europe/Amsterdam", "weekly": {"mon": ["09:00-17:00"]}})
    # Friday 27 March (CET, UTC+1) -> Monday 30 March 09:00 CEST (UTC+2): 07:00 UTC, not 08:00
    assert summer.next_opening(datetime(2026, 3, 27, 18, 0, tzinfo=UTC)).astimezone(UTC).hour == 7
    midnight = parse_hours("America/New_York mon-sun 00:00-24:00")
    assert midnight.is_open(datetime(2026, 12, 7, 4, 59, tzinfo=UTC))  # 23:59 in New York: still open


def test_the_after_hours_text_is_in_the_customers_language_its_time_words_too() -> None:
    hours = parse_hours(AMSTERDAM)
    saturday = datetime(2026, 12, 5, 14, 30, tzinfo=UTC)  # back on Monday 09:00
    lunch, evening = datetime(2026, 12, 7, 12, 0, tzinfo=UTC), datetime(2026, 12, 7, 17, 0, tzinfo=UTC)
    assert hours.after_hours_message(saturday, "fr") == (
        "Notre équipe n'est pas disponible pour le moment et sera de retour lundi à 09:00 (Europe/Amsterdam). "
        "Laissez votre adresse e-mail ci-dessous et un conseiller vous écrira à ce moment-là.")
    assert "sera de retour aujourd'hui à 13:30" in hours.after_hours_message(lunch, "fr")
    assert "sera de retour demain à 09:00" in hours.after_hours_message(evening, "fr")
    assert "ist am Montag um 09:00 Uhr wieder da (Europe/Amsterdam)" in hours.after_hours_message(saturday, "de")
    assert "ist morgen um 09:00 Uhr wieder da" in hours.after_hours_message(evening, "de")
    assert "vuelve el lunes a las 09:00 (Europe/Amsterdam)" in hours.after_hours_message(saturday, "es")
    assert "vuelve hoy a las 13:30" in hours.after_hours_message(lunch, "es")
    assert hours.after_hours_message(evening, "zh").startswith("我们的客服人员现在不在线，将于明天09:00回来（Europe/Amsterdam）。")
    assert "将于周一09:00回来" in hours.after_hours_message(saturday, "zh")
    # a language the product has no texts in (Dutch is detected, not spoken), or none told: English throughout
    english = hours.after_hours_message(saturday)
    assert hours.after_hours_message(saturday, "nl") == hours.after_hours_message(saturday, "unknown") == english
    assert english.startswith("Our team is offline right now and back on Monday at 09:00")
    # open: nothing to say in any language (the site's handoff message is said)
    assert hours.after_hours_message(datetime(2026, 12, 7, 8, 30, tzinfo=UTC), "fr") is None


def test_a_date_a_week_on_and_no_opening_at_all_are_localised() -> None:
    weekly = parse_hours({"timezone": "Europe/Amsterdam", "weekly": {"sun": ["01:00-02:00"]}})
    after = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # Sunday 29 March, today's hour over: Sunday 5 April
    assert "sera de retour dimanche 5 avril à 01:00" in weekly.after_hours_message(after, "fr")
    assert "ist am Sonntag, 5. April, um 01:00 Uhr wieder da" in weekly.after_hours_message(after, "de")
    assert "vuelve el domingo 5 de abril a las 01:00" in weekly.after_hours_message(after, "es")
    assert "将于4月5日（周日）01:00回来" in weekly.after_hours_message(after, "zh")
    assert "back on Sunday 5 April at 01:00" in weekly.after_hours_message(after, "en")
    never = OpeningHours("UTC", {})  # no day at all (parse_hours refuses it; the text stays for safety)
    assert never.after_hours_message(after, "fr").startswith("Notre équipe ne répond pas aux messages")
    assert never.after_hours_message(after).startswith("Our team is not answering chats at the moment.")
