"""The metadata tables, shared by the Quay REST API and the OCI ``/v2`` API.

Accounts follow Quay's model: users, organizations and robots are rows of one ``account`` table, so
one unique constraint on ``username`` keeps a name from being both an org and a user (and makes 50
concurrent creates of one org give exactly one success). Times are epoch seconds (floats), tag
``start_ts``/``end_ts`` integer epoch seconds as the REST tag API shows them.

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

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", String(100), nullable=False),
    Column("applied", Float, nullable=False),
    info={"migration": 0},
)

account = Table(
    "account",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(255), nullable=False, unique=True),
    Column("email", String(255), nullable=True),
    Column("kind", String(8), nullable=False),  # user | org | robot
    Column("password_hash", Text, nullable=True),
    Column("organization_id", Integer, ForeignKey("account.id"), nullable=True),  # robot owner
    Column("enabled", Boolean, nullable=False, default=True),
    Column("superuser", Boolean, nullable=False, default=False),
    Column("uuid", String(36), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("metadata_json", Text, nullable=False, default="{}"),
    Column("robot_token_sealed", Text, nullable=True),
    Column("created", Float, nullable=False),
    Column("last_accessed", Float, nullable=True),
    Index("ix_account_organization", "organization_id"),
    Index("ix_account_email", "email"),  # migration 2: "is this email a user's?" on org create
    info=V1,
)

deleted_namespace = Table(
    "deleted_namespace",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("original_name", String(255), nullable=False, unique=True),
    Column("account_id", Integer, ForeignKey("account.id"), nullable=False),
    Column("marked", Float, nullable=False),
    info=V1,
)

team = Table(
    "team",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("organization_id", Integer, ForeignKey("account.id"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("role", String(8), nullable=False),  # member | creator | admin
    Column("description", Text, nullable=False, default=""),
    UniqueConstraint("organization_id", "name"),
    info=V1,
)

team_member = Table(
    "team_member",
    metadata,
    Column("team_id", Integer, ForeignKey("team.id"), nullable=False),
    Column("account_id", Integer, ForeignKey("account.id"), nullable=False),
    PrimaryKeyConstraint("team_id", "account_id"),
    Index("ix_team_member_account", "account_id"),
    info=V1,
)

repository = Table(
    "repository",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("namespace_id", Integer, ForeignKey("account.id"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("visibility", String(8), nullable=False),  # public | private
    Column("description", Text, nullable=False, default=""),
    Column("kind", String(16), nullable=False, default="image"),
    Column("state", String(32), nullable=False, default="NORMAL"),  # or MARKED_FOR_DELETION
    Column("status_token", String(36), nullable=False),
    Column("created", Float, nullable=False),
    UniqueConstraint("namespace_id", "name"),
    info=V1,
)

repository_permission = Table(
    "repository_permission",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("repository_id", Integer, ForeignKey("repository.id"), nullable=False),
    Column("account_id", Integer, ForeignKey("account.id"), nullable=True),
    Column("team_id", Integer, ForeignKey("team.id"), nullable=True),
    Column("role", String(8), nullable=False),  # read | write | admin
    UniqueConstraint("repository_id", "account_id"),
    UniqueConstraint("repository_id", "team_id"),
    Index("ix_repository_permission_account", "account_id"),
    info=V1,
)

prototype = Table(
    "prototype",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uuid", String(36), nullable=False, unique=True),
    Column("organization_id", Integer, ForeignKey("account.id"), nullable=False),
    Column("activating_account_id", Integer, ForeignKey("account.id"), nullable=True),
    Column("delegate_account_id", Integer, ForeignKey("account.id"), nullable=True),
    Column("delegate_team_id", Integer, ForeignKey("team.id"), nullable=True),
    Column("role", String(8), nullable=False),
    Column("created", Float, nullable=False),
    Index("ix_prototype_organization", "organization_id"),
    info=V1,
)

oauth_application = Table(
    "oauth_application",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("client_id", String(255), nullable=False, unique=True),
    Column("client_secret_sealed", Text, nullable=False),
    Column("organization_id", Integer, ForeignKey("account.id"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("application_uri", Text, nullable=False, default=""),
    Column("redirect_uri", Text, nullable=False, default=""),
    Column("avatar_email", String(255), nullable=True),
    info=V1,
)

oauth_token = Table(
    "oauth_token",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uuid", String(36), nullable=False, unique=True),
    Column("application_id", Integer, ForeignKey("oauth_application.id"), nullable=False),
    Column("account_id", Integer, ForeignKey("account.id"), nullable=False),
    Column("name", String(255), nullable=False, default=""),
    Column("lookup", String(20), nullable=False, unique=True),
    Column("code_digest", String(64), nullable=False),
    Column("scope", Text, nullable=False),
    Column("created", Float, nullable=False),
    Column("expires_at", Float, nullable=True),
    Column("last_accessed", Float, nullable=True),
    Column("created_by", String(255), nullable=True),
    info=V1,
)

# --- OCI tables (the /v2 API owns their contents; created here so both APIs agree) ---

blob = Table(
    "blob",
    metadata,
    Column("digest", String(255), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("created", Float, nullable=False),
    info=V1,
)

repository_blob = Table(
    "repository_blob",
    metadata,
    Column("repository_id", Integer, ForeignKey("repository.id"), nullable=False),
    Column("digest", String(255), ForeignKey("blob.digest"), nullable=False),
    PrimaryKeyConstraint("repository_id", "digest"),
    info=V1,
)

manifest = Table(
    "manifest",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("repository_id", Integer, ForeignKey("repository.id"), nullable=False),
    Column("digest", String(255), nullable=False),
    Column("media_type", String(255), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("created", Float, nullable=False),
    UniqueConstraint("repository_id", "digest"),
    info=V1,
)

manifest_reference = Table(
    "manifest_reference",
    metadata,
    Column("manifest_id", Integer, ForeignKey("manifest.id"), nullable=False),
    Column("kind", String(8), nullable=False),  # blob | manifest
    Column("digest", String(255), nullable=False),
    PrimaryKeyConstraint("manifest_id", "kind", "digest"),
    info=V1,
)

tag = Table(
    "tag",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("repository_id", Integer, ForeignKey("repository.id"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("manifest_id", Integer, ForeignKey("manifest.id"), nullable=False),
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
    Column("repository_id", Integer, ForeignKey("repository.id"), nullable=False),
    Column("size", BigInteger, nullable=False, default=0),
    Column("created", Float, nullable=False),
    info=V1,
)
