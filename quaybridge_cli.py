"""The one command-line dispatcher behind ``quay-bridge``.

It exists so that each package keeps its own entry point and the packages never import one
another just to be started: the dispatcher imports the chosen sub-command's module lazily, and
nothing imports this module.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable, Sequence
from importlib import metadata

from commandline.parsing import suggest

#: sub-command -> (module, function, one-line help). Each function takes the remaining argv.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "run": ("bridge.app.commands", "main", "run the operator (kopf controller, webhook, metrics)"),
    "certs": ("certs.commands", "main", "make webhook certificates and inject the caBundle"),
    "sim": ("sim.commands", "main", "run the OpenShift simulator (an in-memory API server)"),
    "demo": ("demo.commands", "main", "run the embedded end-to-end demo"),
    "registry": ("registry.commands", "main", "run the registry core (same as quay-registry)"),
}


def version() -> str:
    """Return the installed package's version."""
    try:
        return metadata.version("quay-bridge")
    except metadata.PackageNotFoundError:
        return "unknown (the quay-bridge package is not installed)"


def usage() -> str:
    """Return the top-level help text."""
    lines = ["usage: quay-bridge <command> [options]", "", "commands:"]
    lines += [f"  {name:<10} {help_}" for name, (_, _, help_) in COMMANDS.items()]
    lines += ["", "Run 'quay-bridge <command> --help' for a command's options;"]
    lines += ["'quay-bridge --version' prints the version."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch to a sub-command and return its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print(usage(), file=sys.stderr)  # a command is needed: help, and a usage error's status
        return 2
    if args[0] in {"-h", "--help", "help"}:
        print(usage())
        return 0
    if args[0] == "--version":
        print(f"quay-bridge {version()}")
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        close = suggest(name, COMMANDS)
        hint = f"; did you mean {close!r}?" if close else ""
        print(f"quay-bridge: unknown command {name!r}{hint}\n\n{usage()}", file=sys.stderr)
        return 2
    module_name, func_name, _ = COMMANDS[name]
    func: Callable[..., int] = getattr(importlib.import_module(module_name), func_name)
    if "prog" in inspect.signature(func).parameters:
        return func(rest, prog=f"quay-bridge {name}")  # help and errors name this command
    return func(rest)


if __name__ == "__main__":
    sys.exit(main())
