"""An ``argparse`` parser that shows defaults in ``--help`` and suggests the option meant on a typo.

Every quay-bridge command (``quay-bridge run|certs|sim|demo|registry`` and ``quay-registry``) builds
its parser from :class:`ArgumentParser`, so they all behave alike: each option's help ends with its
default (unless the default is None or False, which say nothing, or the help already names it), and
an unknown option or sub-command gets ``did you mean ...?``. Python 3.14's ``suggest_on_error`` does
the latter, but the project supports 3.11, so the matching is done here with :mod:`difflib`.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

_UNRECOGNIZED = re.compile(r"^unrecognized arguments: (?P<args>.+)$")
_INVALID_CHOICE = re.compile(r"invalid choice: '(?P<choice>[^']*)'")


def suggest(word: str, candidates: Iterable[str]) -> str | None:
    """Return the candidate closest to ``word``, if one is close enough to be a typo of it."""
    found = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return found[0] if found else None


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Append ``(default: X)`` to an option's help unless X is None, False or already said."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            default is None
            or default is False
            or default is argparse.SUPPRESS
            or default == []
            or "default" in text
            or not action.option_strings
        ):
            return action.help
        return f"{text} (default: %(default)s)"


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` with defaults in help and "did you mean" on mistakes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", DefaultsHelpFormatter)
        super().__init__(*args, **kwargs)

    def _option_strings(self) -> list[str]:
        """This parser's options and its sub-commands' (argparse reports theirs from here)."""
        options = [option for action in self._actions for option in action.option_strings]
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    if isinstance(sub, ArgumentParser):
                        options += sub._option_strings()
        return options

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        """Remember the words given, so an error about a missing option can point at a typo."""
        self._given = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def _flag_hints(self, words: Iterable[str]) -> str:
        known = self._option_strings()
        hints = []
        for word in words:
            flag = word.split("=", 1)[0]
            if not flag.startswith("-") or flag in known:
                continue
            close = suggest(flag, known)
            if close:
                hints.append(f"{flag}: did you mean {close}?")
        return "; ".join(hints)

    def _hint(self, message: str) -> str:
        unrecognized = _UNRECOGNIZED.match(message)
        if unrecognized:
            return self._flag_hints(unrecognized.group("args").split())
        if message.startswith("the following arguments are required"):
            return self._flag_hints(getattr(self, "_given", []))
        invalid = _INVALID_CHOICE.search(message)
        if invalid:
            choices = [
                str(choice)
                for action in self._actions
                if isinstance(action, argparse._SubParsersAction)
                for choice in action.choices
            ] or re.findall(r"'([^']*)'", message.split("choose from", 1)[-1])
            close = suggest(invalid.group("choice"), choices)
            if close:
                return f"did you mean {close!r}?"
        return ""

    def error(self, message: str) -> NoReturn:
        """Print usage, the error and any suggestion to stderr, and exit with status 2."""
        hint = self._hint(message)
        self.print_usage(sys.stderr)
        text = f"{self.prog}: error: {message}"
        if hint:
            text += f"\n{self.prog}: {hint}"
        self.exit(2, text + "\n")
