"""Unit tests of the pure parts of the OCI API: digests, manifests, scopes, tokens, errors."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from registry.oci import errors
from registry.oci.digests import Digest, DigestError, StreamHasher
from registry.oci.manifests import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    MAX_MANIFEST_BYTES,
    OCI_INDEX,
    OCI_MANIFEST,
    ManifestError,
    ManifestTooLarge,
    parse_manifest,
    referrer_artifact_type,
)
from registry.oci.scopes import NameError_, ScopeError, parse_repository_name, parse_scope
from registry.oci.signing import SigningKey, TokenError
from registry.oci.tokens import (
    ANONYMOUS_IDENTITY,
    ClaimsError,
    Grant,
    Identity,
    check_claims,
    grant_actions,
    issue_claims,
)

SHA = "sha256:" + "a" * 64
SHA_B = "sha256:" + "b" * 64


class TestDigests:
    @pytest.mark.parametrize(
        "text",
        [SHA, "sha512:" + "0" * 128, "sha256:" + hashlib.sha256(b"x").hexdigest()],
    )
    def test_a_well_formed_digest_round_trips(self, text: str) -> None:
        assert str(Digest.parse(text)) == text

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "sha256",
            "sha256:",
            "sha256:" + "a" * 63,
            "sha256:" + "A" * 64,
            "md5:" + "a" * 32,
            "sha512:" + "a" * 64,
            "sha256:" + "g" * 64,
            "../../etc/passwd",
        ],
    )
    def test_a_malformed_or_unsupported_digest_is_refused(self, text: str) -> None:
        with pytest.raises(DigestError):
            Digest.parse(text)

    @pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
    def test_a_stream_hashed_in_chunks_matches_the_whole(self, algorithm: str) -> None:
        data = bytes(range(256)) * 1000
        hasher = StreamHasher(algorithm)
        for start in range(0, len(data), 4096):
            hasher.update(data[start : start + 4096])
        assert hasher.size == len(data)
        assert hasher.matches(Digest.of(data, algorithm))
        assert not hasher.matches(Digest.of(data + b"!", algorithm))

    def test_a_copied_hasher_moves_on_independently(self) -> None:
        hasher = StreamHasher()
        hasher.update(b"abc")
        clone = hasher.copy()
        clone.update(b"def")
        assert hasher.digest() == Digest.of(b"abc")
        assert clone.digest() == Digest.of(b"abcdef")


def _descriptor(media_type: str, digest: str = SHA, size: int = 3) -> dict[str, object]:
    return {"mediaType": media_type, "digest": digest, "size": size}


def _image(**extra: object) -> dict[str, object]:
    return {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": _descriptor("application/vnd.oci.image.config.v1+json"),
        "layers": [_descriptor("application/vnd.oci.image.layer.v1.tar+gzip", SHA_B)],
        **extra,
    }


class TestManifests:
    @pytest.mark.parametrize(
        ("document", "content_type", "media_type"),
        [
            (_image(), OCI_MANIFEST, OCI_MANIFEST),
            ({k: v for k, v in _image().items() if k != "mediaType"}, None, OCI_MANIFEST),
            (_image(mediaType=DOCKER_MANIFEST), DOCKER_MANIFEST, DOCKER_MANIFEST),
            (
                {
                    "schemaVersion": 2,
                    "mediaType": OCI_INDEX,
                    "manifests": [_descriptor(OCI_MANIFEST)],
                },
                OCI_INDEX,
                OCI_INDEX,
            ),
            (
                {"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": []},
                "application/json",
                DOCKER_LIST,
            ),
        ],
    )
    def test_each_supported_kind_is_recognised(
        self, document: dict[str, object], content_type: str | None, media_type: str
    ) -> None:
        body = json.dumps(document).encode()
        parsed = parse_manifest(body, content_type)
        assert parsed.media_type == media_type
        assert parsed.digest == Digest.of(body)
        assert parsed.size == len(body)

    def test_an_image_manifest_requires_its_config_and_layers(self) -> None:
        parsed = parse_manifest(json.dumps(_image()).encode(), OCI_MANIFEST)
        assert [str(d) for d in parsed.required_blobs()] == [SHA, SHA_B]
        assert parsed.children == ()

    def test_an_index_requires_its_children_and_no_blobs(self) -> None:
        document = {"schemaVersion": 2, "manifests": [_descriptor(OCI_MANIFEST, SHA_B)]}
        parsed = parse_manifest(json.dumps(document).encode(), OCI_INDEX)
        assert parsed.is_index
        assert parsed.required_blobs() == ()
        assert [str(d.digest) for d in parsed.children] == [SHA_B]

    def test_a_layer_with_urls_is_not_required_locally(self) -> None:
        layer = {**_descriptor("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", SHA_B)}
        layer["urls"] = ["https://example.com/layer"]
        document = _image(layers=[layer])
        parsed = parse_manifest(json.dumps(document).encode(), OCI_MANIFEST)
        assert [str(d) for d in parsed.required_blobs()] == [SHA]

    def test_subject_and_artifact_type_are_extracted_for_referrers(self) -> None:
        document = _image(subject=_descriptor(OCI_MANIFEST, SHA_B), artifactType="x/sig")
        parsed = parse_manifest(json.dumps(document).encode(), OCI_MANIFEST)
        assert parsed.subject is not None and str(parsed.subject.digest) == SHA_B
        assert referrer_artifact_type(parsed) == "x/sig"

    def test_a_sha512_named_manifest_is_digested_with_sha512(self) -> None:
        body = json.dumps(_image()).encode()
        assert parse_manifest(body, OCI_MANIFEST, "sha512").digest == Digest.of(body, "sha512")

    @pytest.mark.parametrize(
        ("body", "content_type", "reason"),
        [
            (b"{not json", OCI_MANIFEST, "not valid JSON"),
            (b"\xff\xfe", OCI_MANIFEST, "not valid JSON"),
            (b"[1, 2]", OCI_MANIFEST, "JSON object"),
            (json.dumps({"schemaVersion": 1}).encode(), OCI_MANIFEST, "schemaVersion"),
            (json.dumps(_image(mediaType=OCI_INDEX)).encode(), OCI_MANIFEST, "does not match"),
            (json.dumps(_image(config=None)).encode(), OCI_MANIFEST, "config"),
            (json.dumps(_image(layers={})).encode(), OCI_MANIFEST, "layers must be a list"),
            (
                json.dumps(_image(config=_descriptor("a/b", "sha256:short"))).encode(),
                OCI_MANIFEST,
                "config.digest",
            ),
            (
                json.dumps(_image(config=_descriptor("a/b", SHA, -1))).encode(),
                OCI_MANIFEST,
                "size",
            ),
            (json.dumps(_image(mediaType="text/plain")).encode(), "text/plain", "unsupported"),
            (
                json.dumps(_image(annotations={"a": 1})).encode(),
                OCI_MANIFEST,
                "annotations",
            ),
        ],
    )
    def test_a_malformed_manifest_is_refused_with_a_reason(
        self, body: bytes, content_type: str, reason: str
    ) -> None:
        with pytest.raises(ManifestError, match=reason):
            parse_manifest(body, content_type)

    def test_an_oversize_manifest_is_refused_before_parsing(self) -> None:
        body = b" " * (MAX_MANIFEST_BYTES + 1)
        with pytest.raises(ManifestTooLarge):
            parse_manifest(body, OCI_MANIFEST)


class TestScopes:
    @pytest.mark.parametrize(
        ("text", "name", "actions"),
        [
            ("repository:org/repo:pull", "org/repo", ("pull",)),
            ("repository:org/repo:push,pull", "org/repo", ("push", "pull")),
            ("repository:org/a/b:*", "org/a/b", ("*",)),
            ("repository:reg.example:5000/org/repo:pull", "org/repo", ("pull",)),
            ("repository:org/repo:pull,pull", "org/repo", ("pull",)),
            ("repository:my-org/x..y:pull", "my-org/x..y", ("pull",)),
        ],
    )
    def test_a_valid_scope_is_parsed(self, text: str, name: str, actions: tuple[str, ...]) -> None:
        scope = parse_scope(text, host="reg.example:5000")
        assert str(scope.name) == name
        assert scope.actions == actions

    @pytest.mark.parametrize(
        "text",
        ["bogus", "repository:org/repo", "repository:org/repo:delete", "registry:catalog:*", ""],
    )
    def test_an_undecodable_scope_is_an_invalid_request(self, text: str) -> None:
        with pytest.raises(ScopeError, match="Unable to decode"):
            parse_scope(text)

    @pytest.mark.parametrize(
        "text",
        ["repository:Probe-Org/X:push", "repository:single:pull", "repository:a--b/x:pull"],
    )
    def test_an_invalid_repository_name_is_name_invalid(self, text: str) -> None:
        with pytest.raises(NameError_, match="Invalid repository name"):
            parse_scope(text)

    def test_a_nested_repository_keeps_its_namespace_first(self) -> None:
        name = parse_repository_name("org/team/app")
        assert (name.namespace, name.repository) == ("org", "team/app")


class TestTokens:
    def test_claims_follow_quays_shape_for_a_robot(self) -> None:
        identity = Identity("robot", "org+builder")
        grants = [Grant("org/repo", ("push", "pull"))]
        claims = issue_claims(identity, "127.0.0.1:5000", grants, now=1000)
        assert claims == {
            "iss": "quay",
            "aud": "127.0.0.1:5000",
            "nbf": 1000,
            "iat": 1000,
            "exp": 4600,
            "sub": "org+builder",
            "access": [{"type": "repository", "name": "org/repo", "actions": ["push", "pull"]}],
            "context": {
                "version": 2,
                "entity_kind": "robot",
                "entity_reference": "org+builder",
                "kind": "user",
                "user": "org+builder",
                "com.apostille.roots": {"org/repo": "$disabled"},
                "com.apostille.root": "$disabled",
            },
        }

    def test_an_anonymous_token_has_only_the_apostille_context(self) -> None:
        claims = issue_claims(ANONYMOUS_IDENTITY, "h", [Grant("o/r", ())], now=1)
        assert claims["sub"] == "(anonymous)"
        assert claims["context"] == {
            "com.apostille.roots": {"o/r": "$disabled"},
            "com.apostille.root": "$disabled",
        }

    def test_an_oauth_token_names_its_token_id(self) -> None:
        claims = issue_claims(Identity("oauthtoken", "admin", "uuid-1"), "h", [], now=1)
        assert claims["context"]["kind"] == "oauth"
        assert claims["context"]["oauth"] == "uuid-1"
        assert claims["context"]["user"] == "admin"

    @pytest.mark.parametrize(
        ("granted", "need", "allowed"),
        [
            (["pull"], "pull", True),
            (["push"], "pull", True),
            (["*"], "push", True),
            (["pull"], "push", False),
            ([], "pull", False),
            (["push", "pull"], "*", False),
        ],
    )
    def test_token_actions_imply_needs_as_quays_roles_do(
        self, granted: list[str], need: str, allowed: bool
    ) -> None:
        claims = issue_claims(ANONYMOUS_IDENTITY, "h", [Grant("o/r", tuple(granted))], now=100)
        assert check_claims(claims, "h", now=200).allows("o/r", need) is allowed
        assert not check_claims(claims, "h", now=200).allows("o/other", "pull")

    @pytest.mark.parametrize(
        ("change", "now"),
        [
            ({"aud": "elsewhere"}, 200),
            ({"iss": "someone"}, 200),
            ({"exp": 100 + 3661}, 200),
            ({}, 100 + 3600),
            ({"nbf": 1000}, 200),
            ({"access": "all"}, 200),
            ({"iat": "soon"}, 200),
        ],
    )
    def test_claims_failing_quays_validator_are_refused(
        self, change: dict[str, object], now: int
    ) -> None:
        claims = issue_claims(ANONYMOUS_IDENTITY, "h", [], now=100) | change
        with pytest.raises(ClaimsError):
            check_claims(claims, "h", now=now)

    @pytest.mark.parametrize(
        ("actions", "role", "public", "exists", "create", "granted"),
        [
            (("pull",), "read", False, True, False, ("pull",)),
            (("pull",), None, True, True, False, ("pull",)),
            (("pull",), None, False, True, False, ()),
            (("push", "pull"), "read", False, True, False, ("pull",)),
            (("push", "pull"), "write", False, True, False, ("push", "pull")),
            (("push", "pull"), None, False, False, False, ()),
            (("push", "pull"), None, False, False, True, ("push", "pull")),
            (("*",), "write", False, True, False, ()),
            (("*",), "admin", False, True, False, ("*",)),
        ],
    )
    def test_requested_actions_are_downscoped_never_refused(
        self,
        actions: tuple[str, ...],
        role: str | None,
        public: bool,
        exists: bool,
        create: bool,
        granted: tuple[str, ...],
    ) -> None:
        scope = parse_scope(f"repository:org/repo:{','.join(actions)}")
        grant = grant_actions(scope, role=role, is_public=public, exists=exists, can_create=create)
        assert grant == Grant("org/repo", granted)


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate()


class TestSigning:
    def test_a_signed_token_verifies_and_carries_its_kid(self, key: SigningKey) -> None:
        token = key.sign({"sub": "x"})
        header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
        assert header == {"alg": "RS256", "kid": key.kid, "typ": "JWT"}
        assert len(key.kid) == 43
        assert key.verify(token) == {"sub": "x"}

    @pytest.mark.parametrize(
        "mangle",
        [  # each turns a good token into a bad one
            lambda t: t + "x",
            lambda t: t.rsplit(".", 1)[0],
            lambda t: "e30." + t.split(".", 1)[1],
            lambda t: t.split(".")[0] + ".e30." + t.split(".")[2],
            lambda t: "not a token",
        ],
    )
    def test_a_tampered_token_is_refused(self, key: SigningKey, mangle: object) -> None:
        token = key.sign({"sub": "x"})
        with pytest.raises(TokenError):
            key.verify(mangle(token))  # type: ignore[operator]

    def test_another_keys_token_is_refused(self, key: SigningKey) -> None:
        with pytest.raises(TokenError):
            key.verify(SigningKey.generate().sign({"sub": "x"}))

    def test_the_key_is_kept_in_the_data_dir_and_reloaded(self, tmp_path: Path) -> None:
        first = SigningKey.load_or_create(tmp_path)
        second = SigningKey.load_or_create(tmp_path)
        assert first.kid == second.kid
        assert (tmp_path / "oci-signing-key.pem").stat().st_mode & 0o777 == 0o600
        assert second.verify(first.sign({"a": 1})) == {"a": 1}


class TestErrorCatalogue:
    def test_every_spec_code_is_registered_once_with_its_id(self) -> None:
        spec = {
            "BLOB_UNKNOWN": "code-1",
            "BLOB_UPLOAD_INVALID": "code-2",
            "BLOB_UPLOAD_UNKNOWN": "code-3",
            "DIGEST_INVALID": "code-4",
            "MANIFEST_BLOB_UNKNOWN": "code-5",
            "MANIFEST_INVALID": "code-6",
            "MANIFEST_UNKNOWN": "code-7",
            "NAME_INVALID": "code-8",
            "NAME_UNKNOWN": "code-9",
            "SIZE_INVALID": "code-10",
            "UNAUTHORIZED": "code-11",
            "DENIED": "code-12",
            "UNSUPPORTED": "code-13",
            "TOOMANYREQUESTS": "code-14",
        }
        assert {code: errors.lookup(code).spec_id for code in spec} == spec

    def test_the_writer_renders_one_body_shape_and_the_challenge_on_401(self) -> None:
        err = errors.RegistryError(errors.UNAUTHORIZED, challenge_scope="repository:o/r:pull")
        response = errors.error_response(err, realm="http://h/v2/auth", service="h")
        assert response.status == 401
        assert response.headers["WWW-Authenticate"] == (
            'Bearer realm="http://h/v2/auth",service="h",scope="repository:o/r:pull"'
        )
        assert response.body is not None
        assert json.loads(response.body) == {  # type: ignore[arg-type]
            "errors": [
                {
                    "code": "UNAUTHORIZED",
                    "detail": {},
                    "message": "access to the requested resource is not authorized",
                }
            ]
        }

    def test_a_head_error_has_no_body(self) -> None:
        err = errors.RegistryError(errors.BLOB_UNKNOWN)
        response = errors.error_response(err, realm="r", service="s", head=True)
        assert (response.status, response.body, response.content_type) == (
            404,
            b"",
            "application/json",
        )
