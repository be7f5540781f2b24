"""Numbers, money, ranges and values in words: `$2,500`, `above $250 up to $2,500`, `15%`, `true`."""

from __future__ import annotations

from typing import Any

from aios_policy.constitution.space import DOMAINS, Interval

CURRENCY_SIGNS = {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "CA$", "AUD": "A$", "JPY": "¥"}


def number_text(value: float, path: str, currency: str) -> str:
    text = f"{value:,.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else f"{value:,}"
    if path == "amount":
        sign = CURRENCY_SIGNS.get(currency)
        return f"{sign}{text}" if sign else f"{text} {currency}"
    return f"{text}%" if path.endswith(("_pct", "_percent")) else text


def interval_text(interval: Interval, path: str, currency: str) -> str:
    def show(value: float | None) -> str:
        return number_text(value, path, currency) if value is not None else ""

    low, high = interval.low, interval.high
    if low is not None and low == high:
        return f"of exactly {show(low)}"
    if low is None or (path in DOMAINS and low == DOMAINS[path][0] and interval.low_closed):
        return f"at or below {show(high)}" if interval.high_closed else f"below {show(high)}"
    if high is None:
        return f"at or above {show(low)}" if interval.low_closed else f"above {show(low)}"
    start = f"from {show(low)}" if interval.low_closed else f"above {show(low)}"
    end = f"up to {show(high)}" if interval.high_closed else f"below {show(high)}"
    return f"{start} {end}"


def value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "a list of " + ", ".join(map(value_text, value)) if value else "an empty list"
    return f"`{value}`" if isinstance(value, str) else str(value)
