"""Structural lint of the Dockerfile, since hadolint is not packaged for Debian.

The image itself is built and run by tests/packaging/test_image_build.py; this checks, without an
engine and in milliseconds, the shape hadolint would check and the promises the image makes: a
pinned base (a version or a digest, never ``latest``; a base given as an ``ARG`` is judged by its
default), multiple stages with the final one copying from an earlier one, no compiler or wheel
build in the final stage, a numeric non-root ``USER``, ``apt-get install`` only with
``--no-install-recommends`` and with its package lists removed in the same layer, ``pip install``
without a cache, and exec-form ``ENTRYPOINT``/``CMD``. Pure: the caller reads the file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

_COMPILERS = re.compile(r"\b(gcc|g\+\+|clang|build-essential|make|cargo|rustc|python3?-dev)\b")
_PINNED_TAG = re.compile(r":[^:/@]*\d[^:/@]*$")


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction, continuation lines joined."""

    line: int  #: 1-based line where the instruction starts
    keyword: str  #: upper-cased, ``FROM``, ``RUN``, ...
    arguments: str


def parse(text: str) -> list[Instruction]:
    """Split a Dockerfile into instructions, dropping comments, joining continued lines."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue
        if not pending:
            start = number
        continued = stripped.endswith("\\")
        pending.append(stripped[:-1].strip() if continued else stripped)
        if not continued:
            keyword, _, arguments = " ".join(pending).partition(" ")
            instructions.append(Instruction(start, keyword.upper(), arguments.strip()))
            pending = []
    if pending:
        keyword, _, arguments = " ".join(pending).partition(" ")
        instructions.append(Instruction(start, keyword.upper(), arguments.strip()))
    return instructions


def _stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    stages: list[list[Instruction]] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


_ARG_REFERENCE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def base_args(text: str) -> dict[str, str]:
    """Return the ``ARG NAME=default`` declared before the first ``FROM`` (the base arguments)."""
    args: dict[str, str] = {}
    for instruction in parse(text):
        if instruction.keyword == "FROM":
            break
        if instruction.keyword == "ARG" and "=" in instruction.arguments:
            name, _, default = instruction.arguments.partition("=")
            args[name.strip()] = default.strip().strip('"')
    return args


def _from_image(
    instruction: Instruction, args: dict[str, str] | None = None
) -> tuple[str, str | None]:
    """Return a FROM's image, its ``${ARG}`` references replaced by their defaults, and alias."""
    words = [w for w in instruction.arguments.split() if not w.startswith("--")]
    image = words[0] if words else ""
    if args is not None:
        image = _ARG_REFERENCE.sub(lambda m: args.get(m[1] or m[2], m[0]), image)
    alias = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
    return image, alias


def base_images(text: str) -> list[str]:
    """Return every stage's base image as built without ``--build-arg`` (ARG defaults applied)."""
    args = base_args(text)
    return [_from_image(i, args)[0] for i in parse(text) if i.keyword == "FROM"]


def _exec_form(arguments: str) -> bool:
    try:
        value = json.loads(arguments)
    except json.JSONDecodeError:
        return False
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)


def _run_problems(instruction: Instruction, final: bool) -> list[str]:
    out: list[str] = []
    where = f"line {instruction.line}"
    command = instruction.arguments
    if re.search(r"\bapt-get\s+(-\S+\s+)*install\b", command):
        if "--no-install-recommends" not in command:
            out.append(f"{where}: apt-get install without --no-install-recommends")
        if "rm -rf /var/lib/apt/lists" not in command:
            out.append(f"{where}: apt-get install without removing /var/lib/apt/lists in the layer")
    if re.search(r"\bapt-get\s+(-\S+\s+)*(upgrade|dist-upgrade)\b", command):
        out.append(f"{where}: apt-get upgrade makes the image depend on the day it was built")
    if re.search(r"\bpip3?\s+install\b", command) and "--no-cache-dir" not in command:
        out.append(f"{where}: pip install without --no-cache-dir (or PIP_NO_CACHE_DIR)")
    if final and _COMPILERS.search(command):
        out.append(f"{where}: the final stage installs or runs a compiler")
    if final and re.search(r"\bpip3?\s+wheel\b|\bpython3?\s+-m\s+build\b", command):
        out.append(f"{where}: the final stage builds wheels; build them in an earlier stage")
    return out


def lint(text: str) -> list[str]:
    """Return every problem found in the Dockerfile ``text`` (empty when it passes)."""
    instructions = parse(text)
    stages = _stages(instructions)
    if not stages:
        return ["no FROM instruction"]
    out: list[str] = []
    aliases: set[str] = set()
    pip_cache_off = any(
        i.keyword in {"ENV", "ARG"} and "PIP_NO_CACHE_DIR" in i.arguments for i in instructions
    )
    args = base_args(text)
    for index, stage in enumerate(stages):
        final = index == len(stages) - 1
        image, alias = _from_image(stage[0], args)
        if "$" in image:
            out.append(f"line {stage[0].line}: base image {image!r} names an ARG without default")
        elif image not in aliases:
            if "@sha256:" not in image and not _PINNED_TAG.search(image):
                out.append(f"line {stage[0].line}: base image {image!r} is not pinned to a version")
            if image.endswith(":latest"):
                out.append(f"line {stage[0].line}: base image {image!r} uses latest")
        if alias:
            aliases.add(alias)
        for instruction in stage:
            if instruction.keyword == "RUN":
                problems = _run_problems(instruction, final)
                if pip_cache_off:
                    problems = [p for p in problems if "--no-cache-dir" not in p]
                out += problems
            if instruction.keyword == "ADD" and re.search(r"https?://", instruction.arguments):
                out.append(f"line {instruction.line}: ADD of a URL; download in a RUN and verify")
    if len(stages) < 2:
        out.append("a single stage: build the wheel in a first stage, copy the result")
    final_stage = stages[-1]
    if (
        not any(i.keyword == "COPY" and "--from=" in i.arguments for i in final_stage)
        and len(stages) >= 2
    ):
        out.append("the final stage copies nothing from an earlier stage")
    users = [i for i in final_stage if i.keyword == "USER"]
    if not users:
        out.append("the final stage has no USER: it would run as root")
    else:
        user = users[-1].arguments.split(":")[0]
        if not user.isdigit():
            out.append(f"USER {user!r} is not numeric (Kubernetes' runAsNonRoot needs a UID)")
        elif int(user) == 0:
            out.append("USER 0 is root")
    for keyword in ("ENTRYPOINT", "CMD"):
        found = [i for i in final_stage if i.keyword == keyword]
        if keyword == "ENTRYPOINT" and not found:
            out.append("no ENTRYPOINT in the final stage")
        for instruction in found:
            if not _exec_form(instruction.arguments):
                out.append(f"line {instruction.line}: {keyword} is not in exec (JSON array) form")
    return out


def final_stage_value(text: str, keyword: str) -> list[str] | None:
    """Return the exec-form arguments of the final stage's last ``keyword`` (ENTRYPOINT or CMD)."""
    stages = _stages(parse(text))
    found = [i for i in (stages[-1] if stages else []) if i.keyword == keyword.upper()]
    if not found or not _exec_form(found[-1].arguments):
        return None
    value: list[str] = json.loads(found[-1].arguments)
    return value


def copy_sources(text: str) -> list[str]:
    """Return the build-context paths the Dockerfile COPYs (not those copied from a stage)."""
    sources: list[str] = []
    for instruction in parse(text):
        if instruction.keyword not in {"COPY", "ADD"} or "--from=" in instruction.arguments:
            continue
        words = [w for w in instruction.arguments.split() if not w.startswith("--")]
        sources += words[:-1]
    return sources


def dockerignored(path: str, dockerignore: str) -> bool:
    """Tell whether ``.dockerignore`` (its text) keeps ``path`` out of the build context.

    Docker's rules: patterns are matched in order and the last match wins; ``!`` re-includes;
    ``**`` matches any number of directories; a pattern matching a directory covers its contents.
    """
    patterns = [
        line.strip() for line in dockerignore.splitlines() if line.strip() and line[0] != "#"
    ]
    path = path.strip("/")
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern[1:] if negate else pattern
        if _matches(body.strip("/"), path):
            excluded = not negate
    return excluded


def _matches(pattern: str, path: str) -> bool:
    regex = ""
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            regex += "(.*/)?"
            index += 3
        elif pattern.startswith("**", index):
            regex += ".*"
            index += 2
        elif pattern[index] == "*":
            regex += "[^/]*"
            index += 1
        elif pattern[index] == "?":
            regex += "[^/]"
            index += 1
        else:
            regex += re.escape(pattern[index])
            index += 1
    return re.fullmatch(f"{regex}(/.*)?", path) is not None
