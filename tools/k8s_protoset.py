"""Build the descriptor set of the Kubernetes API's protobuf schemas, for the simulator.

Kubernetes publishes its protobuf wire format as ``generated.proto`` files inside the Go modules
``k8s.io/api`` and ``k8s.io/apimachinery``. The simulator decodes and encodes protobuf bodies with
the ``protobuf`` runtime from those schemas, so no field table is written by hand; this script, run
by ``make install``, asks Go to download the two modules at the pinned version (``go mod
download``: they are Go modules, brought by Go's own client) and compiles every ``generated.proto``
with ``grpc_tools.protoc`` into one ``FileDescriptorSet``. Nothing fetched is kept in the
repository: the descriptor set is written under the virtual environment
(``<prefix>/share/quay-bridge/kubernetes-api.protoset``), where ``sim.protobuf`` looks for it, with
what the JSON form does differently from the messages beside it (fields Go embeds inline, JSON
names that differ from the protobuf names: read from the Go types' struct tags, as no .proto file
records them).

Usage: ``python -m tools.k8s_protoset [--out PATH] [--version v0.36.3]``. Without ``go`` on the PATH
it says so and exits 0: the simulator then answers protobuf bodies with 415 and a message saying
how to install the schemas.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

#: The Kubernetes API release whose schemas are compiled (k8s.io/api v0.X.Y is Kubernetes 1.X.Y).
VERSION = "v0.36.3"
MODULES = ("k8s.io/api", "k8s.io/apimachinery")
#: the OpenAPI v2 schema kubectl reads in protobuf (gnostic), at the version Kubernetes pins
GNOSTIC = ("github.com/google/gnostic-models", "v0.7.0", "openapiv2/OpenAPIv2.proto")


def default_out() -> Path:
    """Return where the simulator looks for the descriptor set by default."""
    return Path(sys.prefix) / "share" / "quay-bridge" / "kubernetes-api.protoset"


def json_forms_path(protoset: Path) -> Path:
    """Return where the JSON-form differences are written next to the descriptor set."""
    return protoset.with_suffix(".json-forms.json")


def module_dirs(version: str) -> dict[str, Path]:
    """Download the modules with ``go mod download`` and return their directories."""
    args = [
        "go",
        "mod",
        "download",
        "-json",
        *(f"{m}@{version}" for m in MODULES),
        f"{GNOSTIC[0]}@{GNOSTIC[1]}",
    ]
    done = subprocess.run(
        args, check=True, capture_output=True, text=True, cwd=tempfile.gettempdir()
    )
    dirs: dict[str, Path] = {}
    decoder, text, pos = json.JSONDecoder(), done.stdout, 0
    while pos < len(text):
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        info, pos = decoder.raw_decode(text, pos)
        if info.get("Error"):
            raise RuntimeError(f"go mod download {info.get('Path')}: {info['Error']}")
        dirs[info["Path"]] = Path(info["Dir"])
    return dirs


_STRUCT = re.compile(r"^type (\w+) struct \{")
_INLINE = re.compile(r'protobuf:"[^"]*name=(\w+)')
_PACKAGE = re.compile(r"^package (\w+)")


_JSON_NAME = re.compile(r'json:"([^",]*)')


def go_json_forms(dirs: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """Return, per message, what its JSON form does differently from its protobuf message.

    ``inline``: fields Go embeds inline in the JSON form (a Volume's ``secret`` is the
    message's ``volumeSource.secret``); ``names``: fields whose JSON name differs from their
    protobuf name (a MutatingWebhookConfiguration's ``webhooks`` is the message's ``Webhooks``).
    No .proto file records either; the Go type definitions next to each ``generated.proto`` do,
    in their struct tags, which this reads.
    """
    out: dict[str, dict[str, Any]] = {}
    for module, directory in dirs.items():
        if module == GNOSTIC[0]:
            continue
        for proto in directory.rglob("generated.proto"):
            match = re.search(r"^package ([\w.]+);", proto.read_text(), re.M)
            if match is None:
                continue
            package = match.group(1)
            for source in proto.parent.glob("types*.go"):
                struct = ""
                for line in source.read_text().splitlines():
                    opened = _STRUCT.match(line)
                    if opened:
                        struct = opened.group(1)
                    elif line.startswith("}"):
                        struct = ""
                    elif struct and "protobuf:" in line and "json:" in line:
                        _note_field(out.setdefault(f"{package}.{struct}", {}), line)
    return {k: v for k, v in out.items() if v}


def _note_field(entry: dict[str, Any], line: str) -> None:
    named = _INLINE.search(line)
    json_name = _JSON_NAME.search(line)
    go_field = line.split()[0].rsplit(".", 1)[-1]
    # without name=, the protobuf field is named after the Go field
    proto_name = named.group(1) if named else go_field[0].lower() + go_field[1:]
    if 'json:",inline"' in line:
        entry.setdefault("inline", []).append(proto_name)
    elif json_name and json_name.group(1) not in ("", "-", proto_name):
        entry.setdefault("names", {})[proto_name] = json_name.group(1)


def build(out: Path, version: str) -> int:
    """Compile the schemas into ``out``; return the number of .proto files compiled."""
    from grpc_tools import protoc  # imported here: only this build step needs it

    dirs = module_dirs(version)
    with tempfile.TemporaryDirectory() as tmp:
        # protoc resolves imports such as "k8s.io/apimachinery/pkg/.../generated.proto" from a root
        root = Path(tmp)
        for module, directory in dirs.items():
            (root / module).parent.mkdir(parents=True, exist_ok=True)
            (root / module).symlink_to(directory)
        files = sorted(
            str(p.relative_to(root))
            for module in dirs
            if module != GNOSTIC[0]
            for p in (root / module).rglob("generated.proto")
            if "testdata" not in p.parts
        )
        files.append(f"{GNOSTIC[0]}/{GNOSTIC[2]}")
        # google/protobuf/any.proto, which the OpenAPI v2 schema imports, ships with grpc_tools
        well_known = Path(protoc.__file__).parent / "_proto"
        out.parent.mkdir(parents=True, exist_ok=True)
        # protoc warns on stderr about every unused import of the upstream files: keep its
        # output for a failure only
        with tempfile.TemporaryFile() as err:
            saved = os.dup(2)
            os.dup2(err.fileno(), 2)
            try:
                args = [
                    "protoc",
                    f"-I{root}",
                    f"-I{well_known}",
                    "--include_imports",
                    f"--descriptor_set_out={out}",
                ]
                code = protoc.main([*args, *files])
            finally:
                os.dup2(saved, 2)
                os.close(saved)
            if code != 0:
                err.seek(0)
                raise RuntimeError(f"protoc failed ({code}): {err.read().decode()[-2000:]}")
    forms = go_json_forms(dirs)
    json_forms_path(out).write_text(json.dumps(forms, indent=1, sort_keys=True) + "\n")
    return len(files)


def _stamp(version: str) -> str:
    return f"{version} gnostic-{GNOSTIC[1]}"


def main(argv: list[str] | None = None) -> int:
    """Build the descriptor set unless it is there already."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=default_out())
    parser.add_argument("--version", default=VERSION)
    parser.add_argument("--force", action="store_true", help="rebuild even if present")
    args = parser.parse_args(argv)
    stamp = args.out.with_suffix(".version")
    if (
        not args.force
        and args.out.exists()
        and stamp.exists()
        and stamp.read_text().strip() == _stamp(args.version)
    ):
        return 0
    if shutil.which("go") is None:
        print(
            "go is not installed: the simulator will refuse protobuf bodies (415) until "
            "'python -m tools.k8s_protoset' is run with Go on the PATH",
            file=sys.stderr,
        )
        return 0
    count = build(args.out, args.version)
    stamp.write_text(_stamp(args.version) + "\n")
    print(f"compiled {count} Kubernetes {args.version} schemas into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
