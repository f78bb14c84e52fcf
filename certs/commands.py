"""``quay-bridge certs``: make the webhook's certificates and put its CA into the caBundle.

Two sub-commands, for clusters without OpenShift's service CA, OLM or cert-manager:

- ``generate --service NAME --namespace NS --out DIR [--dns NAME]... [--ip ADDR]... [--days N]``
  writes ``ca.crt``, ``tls.crt`` and ``tls.key`` (mode 0600) into DIR;
- ``inject-cabundle --ca FILE (--file YAML [--output PATH] | --name NAME [--kubeconfig PATH])``
  sets ``caBundle`` in a MutatingWebhookConfiguration file or in the live object.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from certs.cabundles import InjectionError, inject_into_yaml
from certs.issuing import (
    DEFAULT_CA_DAYS,
    DEFAULT_SERVING_DAYS,
    KEY_TYPES,
    CertificateError,
    KeyType,
    make_ca,
    make_serving_cert,
)
from certs.storing import write_atomically, write_serving_files
from commandline.parsing import ArgumentParser


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of ``quay-bridge certs``."""
    parser = ArgumentParser(
        prog="quay-bridge certs", description="Certificates for the admission webhook."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    generate = commands.add_parser(
        "generate", help="make a new CA and a serving certificate (ca.crt, tls.crt, tls.key)"
    )
    generate.add_argument("--service", required=True, help="the webhook's Service name")
    generate.add_argument("--namespace", required=True, help="the Service's namespace")
    generate.add_argument("--out", required=True, type=Path, help="directory to write into")
    generate.add_argument(
        "--dns", action="append", default=[], metavar="NAME", help="extra DNS name (repeatable)"
    )
    generate.add_argument(
        "--ip", action="append", default=[], metavar="ADDR", help="extra IP address (repeatable)"
    )
    generate.add_argument(
        "--days",
        type=int,
        default=DEFAULT_SERVING_DAYS,
        help=f"serving certificate lifetime in days (default {DEFAULT_SERVING_DAYS})",
    )
    generate.add_argument(
        "--ca-days",
        type=int,
        default=DEFAULT_CA_DAYS,
        help=f"CA lifetime in days (default {DEFAULT_CA_DAYS})",
    )
    generate.add_argument(
        "--key-type", choices=KEY_TYPES, default="ecdsa-p256", help="key algorithm"
    )

    inject = commands.add_parser(
        "inject-cabundle", help="set caBundle in a MutatingWebhookConfiguration (file or live)"
    )
    inject.add_argument("--ca", required=True, type=Path, help="CA certificate file (ca.crt)")
    target = inject.add_mutually_exclusive_group(required=True)
    target.add_argument("--file", type=Path, help="a YAML file holding the configuration")
    target.add_argument("--name", help="the live MutatingWebhookConfiguration's name")
    inject.add_argument(
        "--output", help="with --file: write here instead of in place ('-' for stdout)"
    )
    inject.add_argument("--kubeconfig", help="with --name: kubeconfig file (default as kubectl)")
    inject.add_argument("--context", help="with --name: kubeconfig context")
    inject.add_argument("--webhook", help="only the webhook with this name (default: all)")
    return parser


def main(argv: Sequence[str]) -> int:
    """Run ``quay-bridge certs`` and return its exit code (0 ok, 1 failed, 2 usage)."""
    parser = build_parser()
    args = parser.parse_args(list(argv))
    if args.command == "inject-cabundle":
        if args.name and args.output:
            parser.error("--output goes with --file (a live object is changed in place)")
        if args.file and (args.kubeconfig or args.context):
            parser.error("--kubeconfig and --context go with --name")
    try:
        if args.command == "generate":
            return _generate(args)
        return _inject(args)
    except (CertificateError, InjectionError, OSError) as exc:
        print(f"quay-bridge certs {args.command}: {exc}", file=sys.stderr)
        return 1


def _generate(args: argparse.Namespace) -> int:
    key_type: KeyType = args.key_type
    ca = make_ca(days=args.ca_days, key_type=key_type)
    serving = make_serving_cert(
        ca,
        args.service,
        args.namespace,
        dns_names=args.dns,
        ip_addresses=args.ip,
        days=args.days,
        key_type=key_type,
    )
    files = write_serving_files(args.out, ca.cert_pem, serving)
    print(f"wrote {files.ca_cert}, {files.cert} and {files.key}")
    return 0


def _inject(args: argparse.Namespace) -> int:
    ca_pem = args.ca.read_bytes()
    if args.file is not None:
        text = inject_into_yaml(args.file.read_text(), ca_pem, webhook=args.webhook)
        if args.output == "-":
            sys.stdout.write(text)
        else:
            destination = Path(args.output) if args.output else args.file
            write_atomically(destination, text.encode())
            print(f"set caBundle in {destination}")
        return 0
    return _inject_live(args, ca_pem)


def _inject_live(args: argparse.Namespace, ca_pem: bytes) -> int:
    from kubernetes import config
    from kubernetes.client.exceptions import ApiException

    from certs.official_client import patch_live_ca_bundle

    try:
        api_client = config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=args.kubeconfig, context=args.context
        )
    except config.ConfigException as exc:
        print(f"quay-bridge certs inject-cabundle: kubeconfig: {exc}", file=sys.stderr)
        return 1
    try:
        with api_client:
            count = patch_live_ca_bundle(api_client, args.name, ca_pem, webhook=args.webhook)
    except ApiException as exc:
        print(
            f"quay-bridge certs inject-cabundle: {args.name}: HTTP {exc.status} {exc.reason}",
            file=sys.stderr,
        )
        return 1
    print(f"set caBundle on {count} webhook(s) of MutatingWebhookConfiguration {args.name}")
    return 0
