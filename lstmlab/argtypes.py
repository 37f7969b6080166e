"""argparse ``type=`` converters shared by the command lines: each error says what was expected and what was given."""
from __future__ import annotations

import argparse
import math


def positive_int(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {v}")
    return v


def number(text):
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _positive(text, what):
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not (v > 0 and math.isfinite(v)):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return v


def positive_number(text):
    return _positive(text, "a positive number")


def positive_seconds(text):
    return _positive(text, "a positive number of seconds")


def option(text):
    """``NAME=VALUE`` -> (name, value); VALUE read as JSON where it parses (3, 0.5, true), else as a string."""
    import json
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name.strip(), json.loads(value)
    except ValueError:
        return name.strip(), value


def probabilities(text):
    """``P`` -> float, or ``NAME=P,NAME=P`` -> {name: float} (per-state options such as zoneout)."""
    if "=" not in text:
        return number(text)
    out = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        if not name.strip():
            raise argparse.ArgumentTypeError(f"expected P or NAME=P,NAME=P, got {text!r}")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number for {name.strip()!r}, got {value!r}") from None
    return out
