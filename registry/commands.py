"""``quay-registry`` (also ``quay-bridge registry``): run the registry core.

``serve --host --port --data-dir --database --server-hostname`` is a contract that tests, benchmarks
and users call. ``--namespace-gc-seconds`` (or ``QUAY_REGISTRY_NAMESPACE_GC_SECONDS``) sets how long
a deleted organization's name stays reserved.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from commandline.parsing import ArgumentParser
from registry.settings import DEFAULT_NAMESPACE_GC_SECONDS, Settings

SUPPORTED_DATABASES = ("postgresql://", "postgres://", "sqlite:///")


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = ArgumentParser(prog=prog, description="The bundled registry core.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the Quay REST API subset and the OCI /v2 API")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on")
    serve.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="directory for the SQLite database, keys and blobs (default: a new temporary"
        " directory, removed when the server stops)",
    )
    serve.add_argument(
        "--database",
        default=None,
        help="metadata database URL, e.g. postgresql://user@host:5432/db (default: SQLite)",
    )
    serve.add_argument(
        "--server-hostname",
        default=None,
        help="host:port clients use to reach this server (default: --host:--port)",
    )
    serve.add_argument(
        "--namespace-gc-seconds",
        type=float,
        default=float(
            os.environ.get("QUAY_REGISTRY_NAMESPACE_GC_SECONDS", DEFAULT_NAMESPACE_GC_SECONDS)
        ),
        help="seconds a deleted organization's name stays reserved (default: 60, like Quay)",
    )
    serve.add_argument("--log-level", default="INFO", help="least severe log lines written")
    return parser


def main(argv: list[str] | None = None, *, prog: str = "quay-registry") -> int:
    """Parse ``argv`` and run the chosen command; return the exit code.

    ``prog`` is the name help and errors show (``quay-bridge registry`` through the dispatcher).
    """
    args = _parser(prog).parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.namespace_gc_seconds < 0:
        print(f"{prog}: --namespace-gc-seconds must be >= 0", file=sys.stderr)
        return 2
    if args.database and not args.database.startswith(SUPPORTED_DATABASES):
        print(
            f"{prog}: --database must start with one of {', '.join(SUPPORTED_DATABASES)}",
            file=sys.stderr,
        )
        return 2
    owned = args.data_dir is None
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="quay-registry-"))
    settings = Settings(
        data_dir=data_dir,
        database_url=args.database,
        server_hostname=args.server_hostname or f"{args.host}:{args.port}",
        namespace_gc_seconds=args.namespace_gc_seconds,
    )
    from registry.app import make_app  # imported late so --help stays fast

    logging.getLogger(__name__).info(
        "registry core on %s:%d, data in %s", args.host, args.port, data_dir
    )
    try:
        # run_app stops gracefully on SIGINT (Ctrl-C) and SIGTERM and then returns.
        web.run_app(make_app(settings), host=args.host, port=args.port, access_log=None, print=None)
    except KeyboardInterrupt:  # before run_app handles the signal itself (still starting)
        print(f"{prog}: interrupted while starting, stopped", file=sys.stderr)
        return 130
    except (OSError, SQLAlchemyError) as error:
        # e.g. the port is taken or the database is unreachable; the URL may hold a password,
        # so only the error's class and first line are shown.
        first_line = str(error).splitlines()[0] if str(error) else ""
        print(f"{prog}: cannot start: {type(error).__name__}: {first_line}", file=sys.stderr)
        return 1
    finally:
        if owned:  # a temporary directory holds signing keys: none is left behind
            shutil.rmtree(data_dir, ignore_errors=True)
    where = "its temporary data removed" if owned else f"data kept in {data_dir}"
    print(f"{prog}: stopped, {where}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
