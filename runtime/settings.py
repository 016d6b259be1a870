"""One way to declare a setting, and one precedence rule for all of them.

A :class:`Setting` is an env var with a default, the flag that overrides it, a help line and a
parser. Its value is, in this order of precedence:

1. the flag, when given on the command line;
2. the env var, when set and not empty;
3. the default.

Every command prints ``(env NAME, default VALUE)`` in ``--help`` for each setting, and a bad
value is a :class:`~runtime.errors.ConfigError` that names where it came from (the flag or
the env var), so the command exits 2 with one line. Secrets are :class:`Secret` values: their
``repr`` and ``str`` are masked, so a logged settings object, an error message or ``--help``
never shows them; only :meth:`Secret.reveal` gives the text, at the client that needs it.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import math
import os
import re
import stat
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from runtime.errors import ConfigError

T = TypeVar("T")

MASK = "****"


class Secret:
    """A secret's text, masked everywhere it could be printed."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            other = other._value
        if not isinstance(other, str):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other.encode())

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return f"Secret({MASK!r})" if self._value else "Secret('')"

    def __str__(self) -> str:
        return MASK if self._value else ""


# --- parsers: text -> value, ValueError with a short reason -----------------------------------


def text(value: str) -> str:
    return value


def _finite(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError("not a number") from None
    if not math.isfinite(number):
        raise ValueError("not a finite number")
    return number


def number(lo: float | None = None, hi: float | None = None, *, above: float | None = None):
    """A finite float within ``lo..hi`` (inclusive), or strictly greater than ``above``."""

    def parse(value: str) -> float:
        result = _finite(value)
        _check_range(result, lo, hi, above)
        return result

    return parse


def integer(lo: int | None = None, hi: int | None = None):
    """An int within ``lo..hi`` (inclusive)."""

    def parse(value: str) -> int:
        try:
            result = int(value.strip())
        except ValueError:
            raise ValueError("not an integer") from None
        _check_range(result, lo, hi, None)
        return result

    return parse


def _check_range(value: float, lo: float | None, hi: float | None, above: float | None) -> None:
    if above is not None and not value > above:
        raise ValueError(f"must be greater than {above:g}")
    if lo is not None and hi is not None and not lo <= value <= hi:
        raise ValueError(f"must be between {lo:g} and {hi:g}")
    if lo is not None and value < lo:
        raise ValueError(f"must be at least {lo:g}")
    if hi is not None and value > hi:
        raise ValueError(f"must be at most {hi:g}")


def choice(*options: str):
    """One of ``options`` (case-insensitive), spelled as declared."""
    declared = {option.lower(): option for option in options}

    def parse(value: str) -> str:
        found = declared.get(value.strip().lower())
        if found is None:
            raise ValueError(f"must be one of {', '.join(options)}")
        return found

    return parse


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|secs|seconds?|m|min|minutes?)?\s*$")
_UNIT_S = {"ms": 0.001, "m": 60.0, "min": 60.0, "minute": 60.0, "minutes": 60.0}


# Longest duration any setting takes: timers and waits beyond it are a typo, and far beyond
# it (1e400 digits) a float is infinite and Python's timeouts overflow.
MAX_DURATION_S = 7 * 86_400.0


def duration_s(value: str) -> float:
    """Seconds in ``"5"``, ``"5s"``, ``"500ms"``, ``"2 min"``, at most a week."""
    match = _DURATION.match(value)
    if not match:
        raise ValueError("expected a duration like 5s, 500ms or 2min")
    seconds = float(match.group(1)) * _UNIT_S.get(match.group(2) or "s", 1.0)
    if not seconds <= MAX_DURATION_S:
        raise ValueError("must be at most 7 days")
    return seconds


def positive_duration_s(value: str) -> float:
    seconds = duration_s(value)
    if seconds <= 0:
        raise ValueError("must be longer than 0")
    return seconds


def flag_type(parse: Callable[[str], T]) -> Callable[[str], T]:
    """``parse`` as an argparse ``type=``: a flag that is not a Setting gets the same checks
    (finite, in range) and the same one-line reason as a setting does. ``parse`` raises
    ValueError with a short reason, or ConfigError with a whole message."""

    def as_flag(value: str) -> T:
        try:
            return parse(value)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{exc}, got {value!r}") from None

    as_flag.__name__ = getattr(parse, "__name__", "value")
    return as_flag


# --- the setting ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting(Generic[T]):
    """An env var, its default, the flag that overrides it, and how to read its text."""

    env: str
    default: str
    help: str
    parse: Callable[[str], T] = text  # type: ignore[assignment]
    flag: str | None = None
    secret: bool = False
    # Shown in --help instead of the default text, when the default is computed.
    default_help: str | None = None
    # Older env var names still read, with a deprecation warning.
    aliases: tuple[str, ...] = ()
    # How a value is shown in --help and errors: a URL without the credentials written in it.
    shown: Callable[[str], str] = text

    def env_text(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The env var's text (or a deprecated alias's), None when unset or empty."""
        environ = os.environ if environ is None else environ
        value = environ.get(self.env)
        if value:
            return value
        for alias in self.aliases:
            value = environ.get(alias)
            if value:
                warnings.warn(
                    f"{alias} is deprecated: set {self.env} instead",
                    DeprecationWarning,
                    stacklevel=3,
                )
                return value
        return None

    def source(self, given: object, environ: Mapping[str, str] | None = None) -> tuple[str, str]:
        """(where the value comes from, its text), by the precedence rule."""
        if given is not None:
            return (self.flag or self.env), str(given)
        from_env = self.env_text(environ)
        if from_env is not None:
            return self.env, from_env
        return f"the default of {self.env}", self.default

    def resolve(self, given: object = None, environ: Mapping[str, str] | None = None) -> T:
        """The value: ``given`` (a flag's value, None when not given), else env, else default."""
        where, raw = self.source(given, environ)
        try:
            return self.parse(raw)
        except ValueError as exc:
            shown = MASK if self.secret else repr(self.shown(raw))
            raise ConfigError(f"{self.help} ({where}): {exc}, got {shown}") from None

    def help_text(self, what: str | None = None) -> str:
        """``what (env NAME, default 'x'; now 'y')``: the env var behind the default, and the
        value in force now when the environment changes it (never for a secret)."""
        default = self.default_help or repr(self.default)
        now = None if self.secret else self.env_text()
        shown = default
        if now is not None and now != self.default:
            shown = f"{default}; now {self.shown(now)!r}"
        return f"{what or self.help} (env {self.env}, default {shown})"

    def add_to(
        self,
        parser: argparse.ArgumentParser | Any,
        *flags: str,
        deprecated: tuple[str, ...] = (),
        **kwargs: Any,
    ) -> None:
        """Adds the setting's flag to ``parser``; its value is None unless given, so that
        :meth:`resolve` can apply the precedence rule. Secrets get no flag (argv is public).
        ``deprecated``: older spellings of the flag, still accepted with a warning."""
        if self.secret:
            raise ValueError(f"{self.env} is a secret: it has no flag")
        names = flags or ((self.flag,) if self.flag else ())
        if not names:
            raise ValueError(f"{self.env} has no flag")
        if deprecated:
            kwargs.setdefault("dest", names[0].lstrip("-").replace("-", "_"))
            kwargs["action"] = _deprecated_spellings(names[0], deprecated)
        parser.add_argument(*names, *deprecated, default=None, help=self.help_text(), **kwargs)


def secret_from(
    value: Setting[Any], file: Setting[Any], environ: Mapping[str, str] | None = None
) -> Secret | None:
    """A secret from its env var ``value``, else from the file its env var ``file`` names;
    None when neither is set. The file's text is stripped (an editor's final newline is no
    part of a password); an unreadable file is a ConfigError naming ``file``'s env var."""
    given = value.env_text(environ)
    if given:
        return Secret(given)
    path = file.env_text(environ)
    if not path:
        return None
    return Secret(read_secret_file(file.env, Path(path)))


def read_secret_file(what: str, path: Path) -> str:
    """The stripped text of a file holding a secret; ConfigError naming ``what`` when it
    cannot be read. A file other users may read is worth a warning: the secret is theirs too."""
    try:
        content = path.read_text(encoding="utf-8").strip()
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"{what}: cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{what}: {path} is not UTF-8 text") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        logging.getLogger("runtime.settings").warning(
            "%s: %s may be read by other users: chmod 600 it", what, path
        )
    return content


def _deprecated_spellings(flag: str, old: tuple[str, ...]) -> type[argparse.Action]:
    class StoreWarningOnOld(argparse.Action):
        def __call__(self, parser, namespace, values, option_string=None):
            if option_string in old:
                warnings.warn(
                    f"{option_string} is deprecated: use {flag}", DeprecationWarning, stacklevel=2
                )
                logging.getLogger("runtime.settings").warning(
                    "%s is deprecated: use %s", option_string, flag
                )
            setattr(namespace, self.dest, values)

    return StoreWarningOnOld


def resolve_all(
    settings: Mapping[str, Setting[Any]],
    given: Mapping[str, object] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``{name: value}`` for each named setting, ``given[name]`` overriding its env var."""
    given = given or {}
    return {name: s.resolve(given.get(name), environ) for name, s in settings.items()}
