"""A site's opening hours: when its people answer a handoff, and what a customer is told outside them.

    hours = parse_hours("Europe/Amsterdam mon-fri 09:00-17:30; sat 10:00-14:00")   # or the stored dict
    hours.is_open(now)                       # now: an aware datetime (UTC is fine)
    hours.next_opening(now)                  # the next start, in the site's zone
    hours.after_hours_message(now)           # "Our team is back on Monday at 09:00 (Europe/Amsterdam). ..."
    hours.after_hours_message(now, "fr")     # "... sera de retour lundi à 09:00 (Europe/Amsterdam). ..."

Stored on the site (Site.opening_hours, JSON) as {"timezone": "Europe/Amsterdam", "weekly": {"mon": ["09:00-17:30"],
...}}: a day that is not listed is closed. Validated when it is set (an unknown IANA zone, a day that is not
mon..sun, a time that is not HH:MM, an interval that ends before it starts or overlaps another): OpeningHoursError,
and nothing is stored. Times are wall-clock times of the zone, so a daylight-saving change moves them with the clock.
The after-hours text is said in the customer's language where the product has its other default texts in it
(understanding.language.LOCALISED: fr, de, es, zh), its "today" / "tomorrow" / weekday words included; else English.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from assistant.engine.errors import SiteError
from assistant.engine.understanding.language import localised

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_INTERVAL = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-(([01]\d|2[0-3]):([0-5]\d)|24:00)$")
# What a customer is told outside opening hours: when a person answers, and that an address lets them write back.
AFTER_HOURS = ("Our team is offline right now and back {when} ({zone}). Leave your e-mail address below and a "
               "person will write to you then.")
CLOSED = "Our team is not answering chats at the moment. Leave your e-mail address below and a person will write to you."


@dataclass(frozen=True)
class When:
    """How one language says when a person answers: 'today at 14:00', 'on Monday at 09:00', ... ({clock}: HH:MM;
    {day}: a weekday name; {date}: a day and month, for an opening a week or more away)."""

    today: str
    tomorrow: str
    weekday: str
    dated: str
    date: str  # {d}: day of the month, {month}: its name
    days: tuple[str, ...]
    months: tuple[str, ...]


# Month names are spelled out here rather than taken from strftime("%B"), which follows the process locale.
WHEN: dict[str, When] = {
    "en": When("today at {clock}", "tomorrow at {clock}", "on {day} at {clock}", "on {day} {date} at {clock}",
               "{d} {month}", DAY_NAMES,
               ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
                "November", "December")),
    "fr": When("aujourd'hui à {clock}", "demain à {clock}", "{day} à {clock}", "{day} {date} à {clock}",
               "{d} {month}", ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
               ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
                "novembre", "décembre")),
    "de": When("heute um {clock} Uhr", "morgen um {clock} Uhr", "am {day} um {clock} Uhr",
               "am {day}, {date}, um {clock} Uhr", "{d}. {month}",
               ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
               ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
                "November", "Dezember")),
    "es": When("hoy a las {clock}", "mañana a las {clock}", "el {day} a las {clock}", "el {day} {date} a las {clock}",
               "{d} de {month}", ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
               ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
                "noviembre", "diciembre")),
    "zh": When("今天{clock}", "明天{clock}", "{day}{clock}", "{date}（{day}）{clock}", "{month}{d}日",
               ("周一", "周二", "周三", "周四", "周五", "周六", "周日"), tuple(f"{m}月" for m in range(1, 13))),
}


class OpeningHoursError(SiteError):
    """Opening hours that cannot be stored (the message says what is wrong); the admin API answers 400."""


@dataclass(frozen=True)
class OpeningHours:
    timezone: str
    weekly: dict[str, tuple[tuple[time, time | None], ...]]  # day -> (start, end); end None = midnight (24:00)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def as_dict(self) -> dict[str, Any]:
        """The stored (and API) form."""
        return {"timezone": self.timezone,
                "weekly": {day: [f"{s:%H:%M}-{'24:00' if e is None else f'{e:%H:%M}'}" for s, e in spans]
                           for day, spans in self.weekly.items() if spans}}

    def _spans(self, day: date) -> list[tuple[datetime, datetime]]:
        zone, out = self.zone, []
        for start, end in self.weekly.get(DAYS[day.weekday()], ()):
            opens = datetime.combine(day, start, zone)
            closes = (datetime.combine(day + timedelta(days=1), time(0), zone) if end is None
                      else datetime.combine(day, end, zone))
            out.append((opens, closes))
        return out

    def is_open(self, now: datetime) -> bool:
        local = now.astimezone(self.zone)
        return any(opens <= local < closes for opens, closes in self._spans(local.date()))

    def next_opening(self, now: datetime) -> datetime | None:
        """The next time a person answers, in the site's zone (now itself when open); None: never open."""
        local = now.astimezone(self.zone)
        for offset in range(8):  # a week on: the same weekday later than today's last closing
            for opens, closes in self._spans(local.date() + timedelta(days=offset)):
                if closes > local:
                    return max(opens, local)
        return None

    def after_hours_message(self, now: datetime, language: str = "en") -> str | None:
        """What the customer is told when a person is asked for outside opening hours, in `language` (a detected
        code) when the product speaks it, else in English; None while open."""
        if self.is_open(now):
            return None
        # the sentence and its time words come as a pair, so a language lacking either is English throughout
        template = localised(language, "after_hours") if language in WHEN else None
        language = language if template else "en"
        opening = self.next_opening(now)
        if opening is None:
            return localised(language, "after_hours_closed") or CLOSED
        when = describe(opening, now.astimezone(self.zone), language)
        return (template or AFTER_HOURS).format(when=when, zone=self.timezone)


def describe(opening: datetime, local_now: datetime, language: str = "en") -> str:
    """'today at 14:00', 'tomorrow at 09:00', 'on Monday at 09:00', or 'on Monday 14 December at 09:00' a week on
    (in French 'demain à 09:00', ...: WHEN)."""
    words = WHEN.get(language, WHEN["en"])
    days = (opening.date() - local_now.date()).days
    clock = f"{opening:%H:%M}"
    if days == 0:
        return words.today.format(clock=clock)
    if days == 1:
        return words.tomorrow.format(clock=clock)
    day = words.days[opening.weekday()]
    if days < 7:
        return words.weekday.format(day=day, clock=clock)
    date_words = words.date.format(d=opening.day, month=words.months[opening.month - 1])
    return words.dated.format(day=day, date=date_words, clock=clock)


def _zone(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise OpeningHoursError("opening hours need an IANA time zone, e.g. Europe/Amsterdam")
    try:
        ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise OpeningHoursError(f"unknown time zone {name!r}: use an IANA name such as Europe/Amsterdam") from exc
    return name.strip()


def _days(spec: str) -> list[str]:
    """'mon', 'mon-fri', 'sat,sun' -> the days they name."""
    out: list[str] = []
    for part in spec.lower().split(","):
        first, _, last = part.strip().partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise OpeningHoursError(f"unknown day {part.strip()!r}: use mon, tue, wed, thu, fri, sat, sun or a "
                                    "range such as mon-fri")
        a, b = DAYS.index(first), DAYS.index(last or first)
        if b < a:
            raise OpeningHoursError(f"day range {part.strip()!r} runs backwards: write it as mon-fri")
        out.extend(DAYS[a:b + 1])
    return out


def _intervals(day: str, values: Any) -> tuple[tuple[time, time | None], ...]:
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list | tuple):
        raise OpeningHoursError(f"{day}: give a list of intervals such as ['09:00-17:00']")
    spans: list[tuple[time, time | None]] = []
    for value in values:
        match = _INTERVAL.match(str(value).strip())
        if match is None:
            raise OpeningHoursError(f"{day}: {value!r} is not an interval HH:MM-HH:MM (00:00-24:00)")
        start = time(int(match.group(1)), int(match.group(2)))
        end = None if match.group(3) == "24:00" else time(int(match.group(4)), int(match.group(5)))
        if end is not None and end <= start:
            raise OpeningHoursError(f"{day}: {value!r} ends before it starts (an interval stays within one day)")
        spans.append((start, end))
    spans.sort()
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        if end is None or start < end:
            raise OpeningHoursError(f"{day}: intervals overlap")
    return tuple(spans)


def parse_hours(value: Any) -> OpeningHours:
    """Opening hours from their stored/API dict or the CLI's text form ("ZONE DAYS HH:MM-HH:MM[, ...]; DAYS ...")."""
    if isinstance(value, OpeningHours):
        return value
    if isinstance(value, str):
        zone, _, rest = value.strip().partition(" ")
        weekly: dict[str, list[str]] = {}
        for clause in filter(None, (c.strip() for c in rest.split(";"))):
            days, _, times = clause.partition(" ")
            for day in _days(days):
                weekly.setdefault(day, []).extend(t.strip() for t in times.split(",") if t.strip())
        value = {"timezone": zone, "weekly": weekly}
    if not isinstance(value, dict) or set(value) - {"timezone", "weekly"}:
        raise OpeningHoursError("opening hours are {'timezone': 'Europe/Amsterdam', 'weekly': {'mon': ['09:00-17:00']}}")
    weekly_in = value.get("weekly") or {}
    if not isinstance(weekly_in, dict) or not weekly_in:
        raise OpeningHoursError("opening hours need at least one day, e.g. {'mon': ['09:00-17:00']}")
    zone = _zone(value.get("timezone"))
    unknown = [d for d in weekly_in if d not in DAYS]
    if unknown:
        raise OpeningHoursError(f"unknown day(s) {unknown}: use {', '.join(DAYS)}")
    weekly_out = {day: _intervals(day, weekly_in[day]) for day in DAYS if day in weekly_in}
    return OpeningHours(zone, weekly_out)


def validate_hours(value: Any) -> dict[str, Any] | None:
    """The value to store for Site.opening_hours (None or empty: unset, always open); OpeningHoursError otherwise."""
    if value is None or value == "" or value == {}:
        return None
    return parse_hours(value).as_dict()
