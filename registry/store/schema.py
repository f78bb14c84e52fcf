"""The metadata tables, shared by the Quay REST API and the OCI ``/v2`` API.

Accounts follow Quay's model: users, organizations and robots are rows of one ``account`` table, so
one unique constraint on ``username`` keeps a name from being both an org and a user (and makes 50
concurrent creates of one org give exactly one success). Times are epoch seconds (floats), tag
``start_ts``/``end_ts`` integer epoch seconds as the REST tag API shows them.

This is the one description of the tables: SQLite and PostgreSQL each get their DDL compiled from
it (``docs/registry.md``, "Storage"). The columns that mean the same in every table (the key, a
reference by key, an epoch time, free text) are declared by the helpers below.

Every table carries ``info={"migration": N}``: migration N creates exactly the tables tagged N.
Tables are never altered in place; a later migration adds tables (or side tables keyed by an
existing id).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()
V1 = {"migration": 1}


def _key() -> Column[int]:
    """The surrogate key ``id`` a table's rows are referred to by."""
    return Column("id", Integer, primary_key=True)


def _ref(name: str, table: str, *, nullable: bool = False) -> Column[int]:
    """A reference to a row of ``table`` by its surrogate key."""
    return Column(name, Integer, ForeignKey(f"{table}.id"), nullable=nullable)


def _epoch(name: str, *, nullable: bool = False) -> Column[float]:
    """A time in epoch seconds (a float, as the APIs show it)."""
    return Column(name, Float, nullable=nullable)


def _text(name: str) -> Column[str]:
    """Free text a user may leave empty (stored as ``""``, never NULL)."""
    return Column(name, Text, nullable=False, default="")


schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", String(100), nullable=False),
    _epoch("applied"),
    info={"migration": 0},
)

account = Table(
    "account",
    metadata,
    _key(),
    Column("username", String(255), nullable=False, unique=True),
    Column("email", String(255), nullable=True),
    Column("kind", String(8), nullable=False),  # user | org | robot
    Column("password_hash", Text, nullable=True),
    _ref("organization_id", "account", nullable=True),  # robot owner
    Column("enabled", Boolean, nullable=False, default=True),
    Column("superuser", Boolean, nullable=False, default=False),
    Column("uuid", String(36), nullable=False),
    _text("description"),
    Column("metadata_json", Text, nullable=False, default="{}"),
    Column("robot_token_sealed", Text, nullable=True),
    _epoch("created"),
    _epoch("last_accessed", nullable=True),
    Index("ix_account_organization", "organization_id"),
    Index("ix_account_email", "email"),  # migration 2: "is this email a user's?" on org create
    info=V1,
)

deleted_namespace = Table(
    "deleted_namespace",
    metadata,
    _key(),
    Column("original_name", String(255), nullable=False, unique=True),
    _ref("account_id", "account"),
    _epoch("marked"),
    info=V1,
)

team = Table(
    "team",
    metadata,
    _key(),
    _ref("organization_id", "account"),
    Column("name", String(255), nullable=False),
    Column("role", String(8), nullable=False),  # member | creator | admin
    _text("description"),
    UniqueConstraint("organization_id", "name"),
    info=V1,
)

team_member = Table(
    "team_member",
    metadata,
    _ref("team_id", "team"),
    _ref("account_id", "account"),
    PrimaryKeyConstraint("team_id", "account_id"),
    Index("ix_team_member_account", "account_id"),
    info=V1,
)

repository = Table(
    "repository",
    metadata,
    _key(),
    _ref("namespace_id", "account"),
    Column("name", String(255), nullable=False),
    Column("visibility", String(8), nullable=False),  # public | private
    _text("description"),
    Column("kind", String(16), nullable=False, default="image"),
    Column("state", String(32), nullable=False, default="NORMAL"),  # or MARKED_FOR_DELETION
    Column("status_token", String(36), nullable=False),
    _epoch("created"),
    UniqueConstraint("namespace_id", "name"),
    info=V1,
)

repository_permission = Table(
    "repository_permission",
    metadata,
    _key(),
    _ref("repository_id", "repository"),
    _ref("account_id", "account", nullable=True),
    _ref("team_id", "team", nullable=True),
    Column("role", String(8), nullable=False),  # read | write | admin
    UniqueConstraint("repository_id", "account_id"),
    UniqueConstraint("repository_id", "team_id"),
    Index("ix_repository_permission_account", "account_id"),
    info=V1,
)

prototype = Table(
    "prototype",
    metadata,
    _key(),
    Column("uuid", String(36), nullable=False, unique=True),
    _ref("organization_id", "account"),
    _ref("activating_account_id", "account", nullable=True),
    _ref("delegate_account_id", "account", nullable=True),
    _ref("delegate_team_id", "team", nullable=True),
    Column("role", String(8), nullable=False),
    _epoch("created"),
    Index("ix_prototype_organization", "organization_id"),
    info=V1,
)

oauth_application = Table(
    "oauth_application",
    metadata,
    _key(),
    Column("client_id", String(255), nullable=False, unique=True),
    Column("client_secret_sealed", Text, nullable=False),
    _ref("organization_id", "account"),
    Column("name", String(255), nullable=False),
    _text("description"),
    _text("application_uri"),
    _text("redirect_uri"),
    Column("avatar_email", String(255), nullable=True),
    info=V1,
)

oauth_token = Table(
    "oauth_token",
    metadata,
    _key(),
    Column("uuid", String(36), nullable=False, unique=True),
    _ref("application_id", "oauth_application"),
    _ref("account_id", "account"),
    Column("name", String(255), nullable=False, default=""),
    Column("lookup", String(20), nullable=False, unique=True),
    Column("code_digest", String(64), nullable=False),
    Column("scope", Text, nullable=False),
    _epoch("created"),
    _epoch("expires_at", nullable=True),
    _epoch("last_accessed", nullable=True),
    Column("created_by", String(255), nullable=True),
    info=V1,
)

# --- OCI tables (the /v2 API owns their contents; created here so both APIs agree) ---

blob = Table(
    "blob",
    metadata,
    Column("digest", String(255), primary_key=True),
    Column("size", BigInteger, nullable=False),
    _epoch("created"),
    info=V1,
)

repository_blob = Table(
    "repository_blob",
    metadata,
    _ref("repository_id", "repository"),
    Column("digest", String(255), ForeignKey("blob.digest"), nullable=False),
    PrimaryKeyConstraint("repository_id", "digest"),
    info=V1,
)

manifest = Table(
    "manifest",
    metadata,
    _key(),
    _ref("repository_id", "repository"),
    Column("digest", String(255), nullable=False),
    Column("media_type", String(255), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("content", LargeBinary, nullable=False),
    _epoch("created"),
    UniqueConstraint("repository_id", "digest"),
    info=V1,
)

manifest_reference = Table(
    "manifest_reference",
    metadata,
    _ref("manifest_id", "manifest"),
    Column("kind", String(8), nullable=False),  # blob | manifest
    Column("digest", String(255), nullable=False),
    PrimaryKeyConstraint("manifest_id", "kind", "digest"),
    info=V1,
)

tag = Table(
    "tag",
    metadata,
    _key(),
    _ref("repository_id", "repository"),
    Column("name", String(255), nullable=False),
    _ref("manifest_id", "manifest"),
    Column("start_ts", BigInteger, nullable=False),
    Column("end_ts", BigInteger, nullable=True),  # NULL = the live tag; history rows keep theirs
    Index("ix_tag_repository_name", "repository_id", "name"),
    Index(
        "ux_tag_active",
        "repository_id",
        "name",
        unique=True,
        sqlite_where=Column("end_ts").is_(None),
        postgresql_where=Column("end_ts").is_(None),
    ),
    info=V1,
)

upload = Table(
    "upload",
    metadata,
    Column("uuid", String(36), primary_key=True),
    _ref("repository_id", "repository"),
    Column("size", BigInteger, nullable=False, default=0),
    _epoch("created"),
    info=V1,
)
