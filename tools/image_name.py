"""The image's name: the ``images`` entries of kustomizations, as kustomize applies them.

The manifests name the image ``quay-bridge``; ``deploy/image/kustomization.yaml`` (a kustomize
Component that deploy/base and deploy/registry-core include) maps that to a registry, repository
and tag. ``tools/make_bundle.py`` applies the same mapping to the CSV and ``tools/image_build.py``
tags the image it builds with it, so one file names the image everywhere. Pure: callers read files.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

#: The component every install path includes, and the name the manifests use for the image.
COMPONENT = Path("deploy") / "image" / "kustomization.yaml"
NAME = "quay-bridge"

_WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "Pod"}


def _split(reference: str) -> tuple[str, str]:
    """Split ``reference`` into its name and its ``:tag`` / ``@digest`` suffix (kept as is)."""
    if "@" in reference:
        name, _, digest = reference.partition("@")
        return name, f"@{digest}"
    slash = reference.rfind("/")
    colon = reference.rfind(":")
    if colon > slash:
        return reference[:colon], reference[colon:]
    return reference, ""


def rename(reference: str, images: Sequence[Mapping[str, Any]]) -> str:
    """Return ``reference`` rewritten by the first ``images`` entry whose ``name`` matches it.

    As kustomize: ``newName`` replaces the name, ``digest`` (preferred) or ``newTag`` the tag.
    """
    name, suffix = _split(reference)
    for entry in images:
        if entry.get("name") != name:
            continue
        name = str(entry.get("newName", name))
        if "digest" in entry:
            suffix = f"@{entry['digest']}"
        elif "newTag" in entry:
            suffix = f":{entry['newTag']}"
        break
    return name + suffix


def apply(objects: list[dict[str, Any]], images: Sequence[Mapping[str, Any]]) -> None:
    """Rewrite, in place, the containers' images of the workloads in ``objects``."""
    for obj in objects:
        if obj.get("kind") not in _WORKLOADS:
            continue
        spec = obj.get("spec", {})
        pod = spec if obj["kind"] == "Pod" else spec.get("template", {}).get("spec", {})
        for key in ("initContainers", "containers"):
            for container in pod.get(key, []):
                container["image"] = rename(container["image"], images)


def component_images(root: Path) -> list[dict[str, Any]]:
    """Return the ``images`` entries of ``deploy/image/kustomization.yaml`` under ``root``."""
    document = yaml.safe_load((root / COMPONENT).read_text())
    return [copy.deepcopy(dict(e)) for e in document.get("images", [])]


def reference(root: Path) -> str:
    """The image's full reference for a cluster, e.g. ``quay.io/quay-bridge/quay-bridge:0.1.0``."""
    return rename(NAME, component_images(root))
