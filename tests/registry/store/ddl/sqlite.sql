CREATE TABLE account (
	id INTEGER NOT NULL, 
	username VARCHAR(255) NOT NULL, 
	email VARCHAR(255), 
	kind VARCHAR(8) NOT NULL, 
	password_hash TEXT, 
	organization_id INTEGER, 
	enabled BOOLEAN NOT NULL, 
	superuser BOOLEAN NOT NULL, 
	uuid VARCHAR(36) NOT NULL, 
	description TEXT NOT NULL, 
	metadata_json TEXT NOT NULL, 
	robot_token_sealed TEXT, 
	created FLOAT NOT NULL, 
	last_accessed FLOAT, 
	PRIMARY KEY (id), 
	UNIQUE (username), 
	FOREIGN KEY(organization_id) REFERENCES account (id)
);

CREATE INDEX ix_account_email ON account (email);

CREATE INDEX ix_account_organization ON account (organization_id);

CREATE TABLE blob (
	digest VARCHAR(255) NOT NULL, 
	size BIGINT NOT NULL, 
	created FLOAT NOT NULL, 
	PRIMARY KEY (digest)
);

CREATE TABLE schema_version (
	version INTEGER NOT NULL, 
	name VARCHAR(100) NOT NULL, 
	applied FLOAT NOT NULL, 
	PRIMARY KEY (version)
);

CREATE TABLE deleted_namespace (
	id INTEGER NOT NULL, 
	original_name VARCHAR(255) NOT NULL, 
	account_id INTEGER NOT NULL, 
	marked FLOAT NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (original_name), 
	FOREIGN KEY(account_id) REFERENCES account (id)
);

CREATE TABLE oauth_application (
	id INTEGER NOT NULL, 
	client_id VARCHAR(255) NOT NULL, 
	client_secret_sealed TEXT NOT NULL, 
	organization_id INTEGER NOT NULL, 
	name VARCHAR(255) NOT NULL, 
	description TEXT NOT NULL, 
	application_uri TEXT NOT NULL, 
	redirect_uri TEXT NOT NULL, 
	avatar_email VARCHAR(255), 
	PRIMARY KEY (id), 
	UNIQUE (client_id), 
	FOREIGN KEY(organization_id) REFERENCES account (id)
);

CREATE TABLE repository (
	id INTEGER NOT NULL, 
	namespace_id INTEGER NOT NULL, 
	name VARCHAR(255) NOT NULL, 
	visibility VARCHAR(8) NOT NULL, 
	description TEXT NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	state VARCHAR(32) NOT NULL, 
	status_token VARCHAR(36) NOT NULL, 
	created FLOAT NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (namespace_id, name), 
	FOREIGN KEY(namespace_id) REFERENCES account (id)
);

CREATE TABLE team (
	id INTEGER NOT NULL, 
	organization_id INTEGER NOT NULL, 
	name VARCHAR(255) NOT NULL, 
	role VARCHAR(8) NOT NULL, 
	description TEXT NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (organization_id, name), 
	FOREIGN KEY(organization_id) REFERENCES account (id)
);

CREATE TABLE manifest (
	id INTEGER NOT NULL, 
	repository_id INTEGER NOT NULL, 
	digest VARCHAR(255) NOT NULL, 
	media_type VARCHAR(255) NOT NULL, 
	size BIGINT NOT NULL, 
	content BLOB NOT NULL, 
	created FLOAT NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (repository_id, digest), 
	FOREIGN KEY(repository_id) REFERENCES repository (id)
);

CREATE TABLE oauth_token (
	id INTEGER NOT NULL, 
	uuid VARCHAR(36) NOT NULL, 
	application_id INTEGER NOT NULL, 
	account_id INTEGER NOT NULL, 
	name VARCHAR(255) NOT NULL, 
	lookup VARCHAR(20) NOT NULL, 
	code_digest VARCHAR(64) NOT NULL, 
	scope TEXT NOT NULL, 
	created FLOAT NOT NULL, 
	expires_at FLOAT, 
	last_accessed FLOAT, 
	created_by VARCHAR(255), 
	PRIMARY KEY (id), 
	UNIQUE (uuid), 
	FOREIGN KEY(application_id) REFERENCES oauth_application (id), 
	FOREIGN KEY(account_id) REFERENCES account (id), 
	UNIQUE (lookup)
);

CREATE TABLE prototype (
	id INTEGER NOT NULL, 
	uuid VARCHAR(36) NOT NULL, 
	organization_id INTEGER NOT NULL, 
	activating_account_id INTEGER, 
	delegate_account_id INTEGER, 
	delegate_team_id INTEGER, 
	role VARCHAR(8) NOT NULL, 
	created FLOAT NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (uuid), 
	FOREIGN KEY(organization_id) REFERENCES account (id), 
	FOREIGN KEY(activating_account_id) REFERENCES account (id), 
	FOREIGN KEY(delegate_account_id) REFERENCES account (id), 
	FOREIGN KEY(delegate_team_id) REFERENCES team (id)
);

CREATE INDEX ix_prototype_organization ON prototype (organization_id);

CREATE TABLE repository_blob (
	repository_id INTEGER NOT NULL, 
	digest VARCHAR(255) NOT NULL, 
	PRIMARY KEY (repository_id, digest), 
	FOREIGN KEY(repository_id) REFERENCES repository (id), 
	FOREIGN KEY(digest) REFERENCES blob (digest)
);

CREATE TABLE repository_permission (
	id INTEGER NOT NULL, 
	repository_id INTEGER NOT NULL, 
	account_id INTEGER, 
	team_id INTEGER, 
	role VARCHAR(8) NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (repository_id, account_id), 
	UNIQUE (repository_id, team_id), 
	FOREIGN KEY(repository_id) REFERENCES repository (id), 
	FOREIGN KEY(account_id) REFERENCES account (id), 
	FOREIGN KEY(team_id) REFERENCES team (id)
);

CREATE INDEX ix_repository_permission_account ON repository_permission (account_id);

CREATE TABLE team_member (
	team_id INTEGER NOT NULL, 
	account_id INTEGER NOT NULL, 
	PRIMARY KEY (team_id, account_id), 
	FOREIGN KEY(team_id) REFERENCES team (id), 
	FOREIGN KEY(account_id) REFERENCES account (id)
);

CREATE INDEX ix_team_member_account ON team_member (account_id);

CREATE TABLE upload (
	uuid VARCHAR(36) NOT NULL, 
	repository_id INTEGER NOT NULL, 
	size BIGINT NOT NULL, 
	created FLOAT NOT NULL, 
	PRIMARY KEY (uuid), 
	FOREIGN KEY(repository_id) REFERENCES repository (id)
);

CREATE TABLE manifest_reference (
	manifest_id INTEGER NOT NULL, 
	kind VARCHAR(8) NOT NULL, 
	digest VARCHAR(255) NOT NULL, 
	PRIMARY KEY (manifest_id, kind, digest), 
	FOREIGN KEY(manifest_id) REFERENCES manifest (id)
);

CREATE TABLE tag (
	id INTEGER NOT NULL, 
	repository_id INTEGER NOT NULL, 
	name VARCHAR(255) NOT NULL, 
	manifest_id INTEGER NOT NULL, 
	start_ts BIGINT NOT NULL, 
	end_ts BIGINT, 
	PRIMARY KEY (id), 
	FOREIGN KEY(repository_id) REFERENCES repository (id), 
	FOREIGN KEY(manifest_id) REFERENCES manifest (id)
);

CREATE INDEX ix_tag_repository_name ON tag (repository_id, name);

CREATE UNIQUE INDEX ux_tag_active ON tag (repository_id, name) WHERE end_ts IS NULL;
