"""``quay-registry`` (also ``quay-bridge registry``): run, back up and restore the registry core.

``serve --host --port --data-dir --database --server-hostname`` is a contract that tests, benchmarks
and users call. ``--namespace-gc-seconds`` (or ``QUAY_REGISTRY_NAMESPACE_GC_SECONDS``) sets how long
a deleted organization's name stays reserved. ``backup --out DIR`` copies a running registry core's
metadata, keys and blobs consistently; ``restore --from DIR`` puts them into a new data directory
(and database); see ``registry.backups``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from commandline.parsing import ArgumentParser
from registry.algorithms import Algorithms
from registry.configfile import LISTEN_IP_VERSIONS, ConfigError, RegistryConfig, parse_config
from registry.listening import ListenError, listen_addresses, server_hostname_for
from registry.quaycost import QUAY_CALL_SECONDS, QuayCost
from registry.settings import (
    DEFAULT_NAMESPACE_GC_SECONDS,
    DEFAULT_UNREFERENCED_BLOB_SECONDS,
    Settings,
)

SUPPORTED_DATABASES = ("postgresql://", "postgres://", "sqlite:///")


def _version() -> str:
    try:
        return metadata.version("quay-bridge")
    except metadata.PackageNotFoundError:
        return "unknown (the quay-bridge package is not installed)"


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = ArgumentParser(prog=prog, description="The bundled registry core.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the Quay REST API subset and the OCI /v2 API")
    serve.add_argument(
        "--host",
        action="append",
        default=None,
        help="address to listen on; repeat for several (default: 127.0.0.1, ::1 or both, "
        "after the IP version)",
    )
    serve.add_argument(
        "--listen-ip-version",
        choices=LISTEN_IP_VERSIONS,
        default=None,
        help="IPv4, IPv6 or dual-stack (config: FEATURE_LISTEN_IP_VERSION; default: what --host "
        "implies, else IPv4)",
    )
    serve.add_argument(
        "--config",
        type=Path,
        default=None,
        help="a config.yaml with FEATURE_FIPS, PASSWORD_HASH_ALGORITHM, FEATURE_LISTEN_IP_VERSION, "
        "SERVER_HOSTNAME",
    )
    serve.add_argument(
        "--fips",
        action="store_true",
        help="use only FIPS-approved algorithms (config: FEATURE_FIPS: true; docs/fips.md)",
    )
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
    serve.add_argument(
        "--unreferenced-blob-seconds",
        type=float,
        default=float(
            os.environ.get(
                "QUAY_REGISTRY_UNREFERENCED_BLOB_SECONDS", DEFAULT_UNREFERENCED_BLOB_SECONDS
            )
        ),
        help="seconds a blob no manifest references is kept before the blob GC (default 3600)",
    )
    serve.add_argument(
        "--quay-cost",
        action="store_true",
        help="make each bearer-token API call cost what it costs on Quay: a password-hash check "
        "in a few workers, idle keep-alive connections closed (docs/registry.md)",
    )
    serve.add_argument(
        "--quay-cost-seconds",
        type=float,
        default=QUAY_CALL_SECONDS,
        help=f"with --quay-cost: seconds of one check on one worker (default {QUAY_CALL_SECONDS})",
    )
    serve.add_argument(
        "--quay-cost-workers",
        type=int,
        default=1,
        help="with --quay-cost: checks that can run at once (default 1, one Quay worker)",
    )
    serve.add_argument("--log-level", default="INFO", help="least severe log lines written")
    backup = sub.add_parser(
        "backup", help="back up a registry core's metadata, keys and blobs (it may keep serving)"
    )
    backup.add_argument("--out", type=Path, required=True, help="new (or empty) backup directory")
    _add_target_arguments(backup, "the registry's")
    restore = sub.add_parser("restore", help="restore a backup into a new data directory")
    restore.add_argument(
        "--from", dest="source", type=Path, required=True, help="a directory `backup` wrote"
    )
    _add_target_arguments(restore, "the restored registry's")
    restore.add_argument(
        "--force",
        action="store_true",
        help="replace the registry files of a non-empty data directory and drop the registry "
        "tables of a non-empty database",
    )
    return parser


def _add_target_arguments(parser: argparse.ArgumentParser, whose: str) -> None:
    parser.add_argument(
        "--data-dir", type=Path, required=True, help=f"{whose} data directory (keys, blobs)"
    )
    parser.add_argument(
        "--database", default=None, help=f"{whose} PostgreSQL URL (default: SQLite in --data-dir)"
    )
    parser.add_argument("--log-level", default="INFO", help="least severe log lines written")


def _backup(args: argparse.Namespace) -> int:
    from registry.backups.taking import BackupError, take_backup

    settings = Settings(data_dir=args.data_dir, database_url=args.database)
    try:
        summary = asyncio.run(take_backup(settings, args.out))
    except (BackupError, OSError, SQLAlchemyError) as error:
        print(f"quay-registry backup: {_first_line(error)}", file=sys.stderr)
        return 1
    rows = sum(summary.tables.values())
    print(
        f"backup in {summary.out}: {rows} rows in {len(summary.tables)} tables, "
        f"{summary.blobs} blobs ({summary.blob_bytes} bytes), keys"
    )
    return 0


def _restore(args: argparse.Namespace) -> int:
    from registry.backups.restoring import RestoreError, restore_backup

    settings = Settings(data_dir=args.data_dir, database_url=args.database)
    try:
        summary = asyncio.run(restore_backup(args.source, settings, force=args.force))
    except (RestoreError, OSError, SQLAlchemyError) as error:
        print(f"quay-registry restore: {_first_line(error)}", file=sys.stderr)
        return 1
    rows = sum(summary.tables.values())
    print(
        f"restored {rows} rows into {summary.database}, {summary.blobs} blobs and the keys into "
        f"{args.data_dir}"
    )
    return 0


def _signing_key_problems(data_dir: Path, algorithms: Algorithms) -> list[str]:
    """Whether the registry token signing key kept in ``data_dir`` suits ``algorithms``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from registry.oci.signing import KEY_FILE

    path = data_dir / KEY_FILE
    if not algorithms.fips or not path.is_file():
        return []  # a new key is RSA-2048
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        return [f"{path} does not hold an RSA private key"]
    problem = algorithms.rsa_key_problem(key.key_size)
    if problem is None:
        return []
    return [
        f"{path} holds {problem}: move it away and start again to make a new key "
        "(registry tokens signed with the old one stop working; clients log in again)"
    ]


def _first_line(error: BaseException) -> str:
    """The error's message; for database errors only the first line (URLs hold passwords)."""
    if isinstance(error, SQLAlchemyError):
        text = str(error).splitlines()[0] if str(error) else ""
        return f"{type(error).__name__}: {text}"
    return str(error) or type(error).__name__


def main(argv: list[str] | None = None, *, prog: str = "quay-registry") -> int:
    """Parse ``argv`` and run the chosen command; return the exit code.

    ``prog`` is the name help and errors show (``quay-bridge registry`` through the dispatcher).
    """
    args = _parser(prog).parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.database and not args.database.startswith(SUPPORTED_DATABASES):
        print(
            f"{prog}: --database must start with one of {', '.join(SUPPORTED_DATABASES)}",
            file=sys.stderr,
        )
        return 2
    if args.command == "backup":
        return _backup(args)
    if args.command == "restore":
        return _restore(args)
    if args.quay_cost_workers < 1 or args.quay_cost_seconds < 0:
        print(
            f"{prog}: --quay-cost-workers must be >= 1, --quay-cost-seconds >= 0",
            file=sys.stderr,
        )
        return 2
    cost = QuayCost(args.quay_cost_seconds, args.quay_cost_workers) if args.quay_cost else None
    for option in ("namespace_gc_seconds", "unreferenced_blob_seconds"):
        if getattr(args, option) < 0:
            print(f"{prog}: --{option.replace('_', '-')} must be >= 0", file=sys.stderr)
            return 2
    try:
        config = parse_config(args.config.read_text()) if args.config else RegistryConfig()
    except (OSError, ConfigError) as error:
        print(f"{prog}: config file {args.config}: {error}", file=sys.stderr)
        return 2
    algorithms = Algorithms.select(
        fips=bool(args.fips or config.fips), password_scheme=config.password_hash_algorithm
    )
    try:
        version = args.listen_ip_version or config.listen_ip_version
        hosts = listen_addresses(version, args.host)
    except ListenError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 2
    owned = args.data_dir is None
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="quay-registry-"))
    problems = algorithms.problems() + _signing_key_problems(data_dir, algorithms)
    if problems:
        for problem in problems:
            print(f"{prog}: cannot start: {problem}", file=sys.stderr)
        return 2
    settings = Settings(
        data_dir=data_dir,
        database_url=args.database,
        server_hostname=args.server_hostname
        or config.server_hostname
        or server_hostname_for(hosts[0], args.port),
        namespace_gc_seconds=args.namespace_gc_seconds,
        unreferenced_blob_seconds=args.unreferenced_blob_seconds,
        algorithms=algorithms,
        quay_cost=cost,
    )
    from registry.app import make_app  # imported late so --help stays fast

    logging.getLogger(__name__).info(
        "registry core on %s port %d%s, data in %s",
        ", ".join(hosts),
        args.port,
        " (FIPS mode)" if algorithms.fips else "",
        data_dir,
    )
    try:
        # run_app stops gracefully on SIGINT (Ctrl-C) and SIGTERM and then returns.
        web.run_app(
            make_app(settings),
            host=hosts,
            port=args.port,
            access_log=None,
            print=None,
            keepalive_timeout=cost.idle_seconds if cost else 75.0,
        )
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
