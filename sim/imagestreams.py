"""ImageStreams as OpenShift serves them, ImageStreamTags, and the synchronous ImageStreamImport.

Server fields (docs/reference/openshift.md#imagestreams): ``status.dockerImageRepository``, spec tag
generations that follow ``metadata.generation``. ImageStreamImport
(docs/reference/openshift.md#imagestreamimport) resolves each image against the registry named in
``from`` inside the POST, with the namespace's docker secrets, and answers 201 with per-image
Success/Failure statuses while creating or updating the stream; its preconditions give 404 (stream
gone) and 409 (stream changed since the caller's resourceVersion).
"""

from __future__ import annotations

from typing import Any

import aiohttp

from sim import dockercfg
from sim.cloning import clone
from sim.errors import ApiError, conflict, invalid, not_found
from sim.machinery import Machinery, Obj, Request, now
from sim.oci import OciClient, RegistryError, Resolved, parse_reference
from sim.settings import registry_scheme
from sim.store import Key

IS_KEY: Key = ("image.openshift.io", "imagestreams")
IMAGE_KEY: Key = ("image.openshift.io", "images")
SECRET_KEY: Key = ("", "secrets")
CHECK_ANNOTATION = "openshift.io/image.dockerRepositoryCheck"


def _tag_without_generation(tag: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in tag.items() if k != "generation"}


class ImageStreams:
    """ImageStream defaulting, the ImageStreamTag view and ImageStreamImport."""

    def __init__(self, m: Machinery) -> None:
        self.m = m
        m.hooks.prepare[IS_KEY] = [self.prepare]
        m.hooks.readers[("image.openshift.io", "imagestreamtags")] = self.read_tags
        m.hooks.creators[("image.openshift.io", "imagestreamimports")] = self.import_images

    def prepare(self, obj: Obj, old: Obj | None) -> None:
        """Fill server fields and carry spec tag generations."""
        meta = obj["metadata"]
        status = obj.setdefault("status", {})
        status["dockerImageRepository"] = (
            f"{self.m.settings.internal_registry}/{meta['namespace']}/{meta['name']}"
        )
        generation = meta.get("generation", 1)
        old_tags = {t.get("name"): t for t in ((old or {}).get("spec") or {}).get("tags") or []}
        for tag in (obj.get("spec") or {}).get("tags") or []:
            before = old_tags.get(tag.get("name"))
            if (
                not tag.get("generation")
                or before is None
                or _tag_without_generation(before) != _tag_without_generation(tag)
            ):
                tag["generation"] = generation

    def read_tags(self, namespace: str | None, name: str | None) -> list[Obj]:
        """Return ImageStreamTags (``<stream>:<tag>``) that have a status item."""
        out = []
        streams = self.m.store.iter(IS_KEY, namespace)
        if name is not None:
            stream_name, _, tag_name = name.partition(":")
            one = self.m.store.get(IS_KEY, namespace or "", stream_name)
            streams = iter([one] if one else [])
        for stream in streams:
            for st in (stream.get("status") or {}).get("tags") or []:
                if not st.get("items") or (name is not None and st.get("tag") != tag_name):
                    continue
                item = st["items"][0]
                spec_tag = next(
                    (
                        t
                        for t in (stream.get("spec") or {}).get("tags") or []
                        if t.get("name") == st["tag"]
                    ),
                    None,
                )
                meta = stream["metadata"]
                out.append(
                    {
                        "kind": "ImageStreamTag",
                        "apiVersion": "image.openshift.io/v1",
                        "metadata": {
                            "name": f"{meta['name']}:{st['tag']}",
                            "namespace": meta["namespace"],
                            "uid": meta.get("uid"),
                            "resourceVersion": meta["resourceVersion"],
                            "creationTimestamp": item.get("created"),
                        },
                        "tag": spec_tag,
                        "generation": item.get("generation"),
                        "lookupPolicy": (stream.get("spec") or {}).get(
                            "lookupPolicy", {"local": False}
                        ),
                        "image": {
                            "metadata": {"name": item.get("image")},
                            "dockerImageReference": item.get("dockerImageReference"),
                        },
                    }
                )
        return out

    # -- ImageStreamImport ---------------------------------------------------------------------

    def _validate(self, name: str, spec: dict[str, Any]) -> None:
        images = spec.get("images") or []
        if not images:
            if spec.get("repository"):
                raise invalid(
                    "ImageStreamImport",
                    "image.openshift.io",
                    name,
                    [
                        (
                            "spec.repository",
                            "Forbidden: repository imports are not supported by this simulator",
                        )
                    ],
                )
            raise invalid(
                "ImageStreamImport",
                "image.openshift.io",
                name,
                [
                    (
                        "spec.images",
                        "Required value: "
                        "you must specify at least one image or a repository import",
                    )
                ],
            )
        for i, image in enumerate(images):
            src = image.get("from") or {}
            if src.get("kind") != "DockerImage":
                raise invalid(
                    "ImageStreamImport",
                    "image.openshift.io",
                    name,
                    [
                        (
                            f"spec.images[{i}].from.kind",
                            f"Invalid value: {src.get('kind')!r}: only DockerImage is supported",
                        )
                    ],
                )
            try:
                parse_reference(str(src.get("name") or ""))
            except ValueError as exc:
                raise invalid(
                    "ImageStreamImport",
                    "image.openshift.io",
                    name,
                    [(f"spec.images[{i}].from.name", f"Invalid value: {src.get('name')!r}: {exc}")],
                ) from exc
            if "to" in image and not (image.get("to") or {}).get("name"):
                raise invalid(
                    "ImageStreamImport",
                    "image.openshift.io",
                    name,
                    [(f"spec.images[{i}].to.name", "Required value")],
                )

    def _secrets(self, namespace: str) -> list[Obj]:
        return [
            s
            for s in sorted(
                self.m.store.iter(SECRET_KEY, namespace), key=lambda s: s["metadata"]["name"]
            )
            if dockercfg.is_docker_secret(s)
            and (s["metadata"].get("annotations") or {}).get("openshift.io/image.excludeSecret")
            != "true"
        ]

    async def _resolve(self, client: OciClient, name: str, secrets: list[Obj]) -> Resolved:
        ref = parse_reference(name)
        creds = None
        for secret in secrets:
            creds = dockercfg.credentials_for(secret, ref.host, ref.repository)
            if creds is not None:
                break
        try:
            return await client.resolve(ref, creds)
        except RegistryError as exc:
            if exc.kind != "unauthorized" or creds is None:
                raise
            try:
                return await client.resolve(ref, None)
            except RegistryError:
                raise exc from None

    async def import_images(self, namespace: str, body: Obj, req: Request) -> tuple[int, Obj]:
        """Handle ``POST imagestreamimports`` as OpenShift does, synchronously."""
        meta = body.get("metadata") or {}
        name = str(meta.get("name") or "")
        spec = body.get("spec") or {}
        if not name:
            raise invalid(
                "ImageStreamImport", "image.openshift.io", "", [("metadata.name", "Required value")]
            )
        self._validate(name, spec)
        stream = self.m.store.get(IS_KEY, namespace, name)
        if stream is None and (meta.get("resourceVersion") or meta.get("uid")):
            raise not_found("imagestreams", "image.openshift.io", name)
        if stream is not None:
            current = stream["metadata"]["resourceVersion"]
            if meta.get("uid") and meta["uid"] != stream["metadata"]["uid"]:
                raise not_found("imagestreams", "image.openshift.io", name)
            if meta.get("resourceVersion") and meta["resourceVersion"] != current:
                raise conflict(
                    "imagestreams",
                    "image.openshift.io",
                    name,
                    f"the image stream was updated from {meta['resourceVersion']!r} to {current!r}",
                )
        secrets = self._secrets(namespace)
        results: list[tuple[dict[str, Any], Resolved | ApiError]] = []
        async with aiohttp.ClientSession() as session:
            client = OciClient(session, lambda host: registry_scheme(self.m.settings, host))
            for image in spec["images"]:
                source = image["from"]["name"]
                try:
                    results.append((image, await self._resolve(client, source, secrets)))
                except RegistryError as exc:
                    results.append((image, self._failure(source, exc)))
        statuses = [self._image_status(image, result) for image, result in results]
        out = clone(body)
        out.update({"kind": "ImageStreamImport", "apiVersion": "image.openshift.io/v1"})
        out.setdefault("metadata", {})["namespace"] = namespace
        out["metadata"]["creationTimestamp"] = now()
        out["status"] = {"images": statuses}
        if spec.get("import"):
            out["status"]["import"] = self._store_results(namespace, name, results)
        return 201, out

    @staticmethod
    def _failure(source: str, exc: RegistryError) -> ApiError:
        if exc.kind == "unauthorized":
            return ApiError(
                401, "Unauthorized", f'you may not have access to the container image "{source}"'
            )
        if exc.kind == "not_found":
            return ApiError(404, "NotFound", f'dockerimage.image.openshift.io "{source}" not found')
        return ApiError(500, "InternalError", f"Internal error occurred: {source}: {exc}")

    @staticmethod
    def _image_status(image: dict[str, Any], result: Resolved | ApiError) -> dict[str, Any]:
        ref = parse_reference(image["from"]["name"])
        if isinstance(result, ApiError):
            status = {k: v for k, v in result.status().items() if k not in ("kind", "apiVersion")}
            return {"status": status, "tag": ref.tag}
        pull_spec = f"{ref.host}/{ref.repository}@{result.digest}"
        return {
            "status": {"metadata": {}, "status": "Success"},
            "tag": ref.tag,
            "image": {
                "metadata": {"name": result.digest},
                "dockerImageReference": pull_spec,
                "dockerImageManifestMediaType": result.media_type,
                "dockerImageMetadata": {
                    "kind": "DockerImage",
                    "apiVersion": "image.openshift.io/1.0",
                    "Architecture": result.config.get("architecture", ""),
                    "Config": result.config.get("config", {}),
                },
            },
        }

    def _store_results(
        self, namespace: str, name: str, results: list[tuple[dict[str, Any], Resolved | ApiError]]
    ) -> Obj:
        rt = self.m.rt(*IS_KEY)
        old = self.m.store.get(IS_KEY, namespace, name)
        new: dict[str, Any] = (
            clone(old) if old else {"metadata": {"name": name, "namespace": namespace}, "spec": {}}
        )
        generation = old["metadata"].get("generation", 1) + 1 if old else 1
        spec_tags = new.setdefault("spec", {}).setdefault("tags", [])
        status_tags = new.setdefault("status", {}).setdefault("tags", [])
        stamp = now()
        for image, result in results:
            source = image["from"]["name"]
            to = (image.get("to") or {}).get("name") or parse_reference(source).tag
            spec_tag = next((t for t in spec_tags if t.get("name") == to), None)
            status_tag = next((t for t in status_tags if t.get("tag") == to), None)
            if status_tag is None:
                status_tag = {"tag": to, "items": None}
                status_tags.append(status_tag)
            if isinstance(result, ApiError):
                if spec_tag is None:
                    spec_tags.append(
                        {
                            "name": to,
                            "from": {"kind": "DockerImage", "name": source},
                            "importPolicy": image.get("importPolicy") or {},
                            "referencePolicy": image.get("referencePolicy") or {"type": "Source"},
                            "generation": generation,
                        }
                    )
                status_tag["conditions"] = [
                    {
                        "type": "ImportSuccess",
                        "status": "False",
                        "reason": result.reason,
                        "message": result.message,
                        "generation": generation,
                        "lastTransitionTime": stamp,
                    }
                ]
                continue
            ref = parse_reference(source)
            pull_spec = f"{ref.host}/{ref.repository}@{result.digest}"
            entry = {
                "name": to,
                "annotations": None,
                "from": {"kind": "DockerImage", "name": source},
                "importPolicy": {"importMode": "Legacy", **(image.get("importPolicy") or {})},
                "referencePolicy": (spec_tag or {}).get("referencePolicy")
                or image.get("referencePolicy")
                or {"type": "Source"},
                "generation": generation,
            }
            if spec_tag is None:
                spec_tags.append(entry)
            else:
                spec_tag.update(entry)
            items = status_tag.get("items") or []
            if (
                not items
                or items[0].get("image") != result.digest
                or items[0].get("dockerImageReference") != pull_spec
            ):
                items.insert(
                    0,
                    {
                        "created": stamp,
                        "dockerImageReference": pull_spec,
                        "image": result.digest,
                        "generation": generation,
                    },
                )
            else:
                items[0]["generation"] = generation
            status_tag["items"] = items
            status_tag.pop("conditions", None)
            if self.m.store.get(IMAGE_KEY, "", result.digest) is None:
                self.m.write_as_server(
                    self.m.rt(*IMAGE_KEY),
                    {
                        "metadata": {"name": result.digest},
                        "dockerImageReference": pull_spec,
                        "dockerImageManifestMediaType": result.media_type,
                    },
                    None,
                )
        new["metadata"].setdefault("annotations", {})[CHECK_ANNOTATION] = stamp
        stored = self.m.write_as_server(rt, new, old)
        if old is not None and stored["metadata"]["generation"] != generation:
            # only annotations changed: keep tag generations consistent with the stream's
            pass
        return stored
