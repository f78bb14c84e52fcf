"""The registry core's configuration file (``serve --config FILE``), in Quay's config.yaml words.

Only the settings this registry core acts on are accepted; any other key is an error naming the
supported ones, because a Quay ``config.yaml`` copied here would otherwise look applied while its
other settings were silently ignored. Pure parsing: the caller reads the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import yaml

ListenIPVersion = Literal["IPv4", "IPv6", "dual-stack"]
LISTEN_IP_VERSIONS: tuple[ListenIPVersion, ...] = ("IPv4", "IPv6", "dual-stack")

#: The keys this file may hold, with what each means (shown in errors and in docs/registry.md).
SUPPORTED_KEYS = {
    "FEATURE_FIPS": "true: use only FIPS-approved algorithms (docs/fips.md)",
    "PASSWORD_HASH_ALGORITHM": "scrypt or pbkdf2_sha256, for new password hashes",
    "FEATURE_LISTEN_IP_VERSION": "IPv4, IPv6 or dual-stack: which addresses to listen on",
    "SERVER_HOSTNAME": "host:port clients use (as --server-hostname)",
}


class ConfigError(ValueError):
    """The file is not valid configuration; the message says which key and why."""


@dataclass(frozen=True)
class RegistryConfig:
    """What the file set; None where it did not."""

    fips: bool | None = None
    password_hash_algorithm: str | None = None
    listen_ip_version: ListenIPVersion | None = None
    server_hostname: str | None = None


def parse_config(text: str) -> RegistryConfig:
    """Parse the YAML ``text`` of a configuration file.

    Raises:
        ConfigError: not a YAML mapping, an unsupported key, or a value of the wrong kind.
    """
    try:
        document: Any = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"not valid YAML: {error}") from error
    if document is None:
        return RegistryConfig()
    if not isinstance(document, dict):
        raise ConfigError("the file must hold a mapping of settings")
    unknown = sorted(str(key) for key in document if key not in SUPPORTED_KEYS)
    if unknown:
        raise ConfigError(
            f"unsupported setting(s) {', '.join(unknown)}; this registry core reads only "
            + ", ".join(SUPPORTED_KEYS)
        )
    fips = document.get("FEATURE_FIPS")
    if fips is not None and not isinstance(fips, bool):
        raise ConfigError(f"FEATURE_FIPS must be true or false, not {fips!r}")
    scheme = document.get("PASSWORD_HASH_ALGORITHM")
    if scheme is not None and not isinstance(scheme, str):
        raise ConfigError(f"PASSWORD_HASH_ALGORITHM must be a string, not {scheme!r}")
    version = document.get("FEATURE_LISTEN_IP_VERSION")
    if version is not None and version not in LISTEN_IP_VERSIONS:
        raise ConfigError(
            f"FEATURE_LISTEN_IP_VERSION must be one of {', '.join(LISTEN_IP_VERSIONS)}, "
            f"not {version!r}"
        )
    hostname = document.get("SERVER_HOSTNAME")
    if hostname is not None and not isinstance(hostname, str):
        raise ConfigError(f"SERVER_HOSTNAME must be a string, not {hostname!r}")
    return RegistryConfig(
        fips=fips, password_hash_algorithm=scheme, listen_ip_version=version,
        server_hostname=hostname,
    )  # fmt: skip
