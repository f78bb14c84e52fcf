"""The metadata keys quay-bridge writes on and reads from cluster objects, defined once.

The operator (``bridge``), the admission webhook (``webhook``) and the demo agree on these labels,
annotations and the finalizer; each of them meets the others only through the objects that carry
them, so a key spelled differently in two places would silently break the hand-over. A leaf: it
imports nothing of the project, so every package may import it (``pyproject.toml`` checks this).

The Build annotations keep the original operator's ``quay-registry-operator.quay.redhat.com/``
prefix and the finalizer its ``quay.redhat.com/quayintegrations`` name, so clusters that ran the
original keep working; the keys quay-bridge added use ``quay-bridge.quay.redhat.com/``.
"""

from __future__ import annotations

from typing import Final

# Namespaces and the objects the operator writes in them.

#: ``"true"`` on a Namespace the operator provisions (set by the operator, or at creation by the
#: webhook when an integration selects the namespace) and on the Secrets the operator owns.
MANAGED_LABEL: Final = "quay-bridge.quay.redhat.com/managed"
#: On the operator's Secrets: the name of the QuayIntegration that made them.
INTEGRATION_LABEL: Final = "quay-bridge.quay.redhat.com/integration"
#: On a provisioned Namespace: the operator removes its Quay organization before the namespace goes.
FINALIZER: Final = "quay.redhat.com/quayintegrations"
#: Any new value on a Namespace or a QuayIntegration asks for new robot tokens.
ROTATE_ANNOTATION: Final = "quay-bridge.quay.redhat.com/rotate-robot-tokens"
#: On a Namespace: the rotation request the operator last carried out.
ROTATED_ANNOTATION: Final = "quay-bridge.quay.redhat.com/robot-tokens-rotated"
#: On a Namespace, set by a cluster admin to an organization's name: adopt that organization.
ADOPT_ANNOTATION: Final = "quay-bridge.quay.redhat.com/adopt-organization"

# Builds the webhook rewrote to push to Quay.

#: Every Build annotation below starts with it; the webhook strips user-supplied ones.
BUILD_ANNOTATION_PREFIX: Final = "quay-registry-operator.quay.redhat.com/"
#: ``"true"`` on Builds the webhook rewrote to push to Quay.
MANAGED_ANNOTATION: Final = BUILD_ANNOTATION_PREFIX + "quay-registry-operator-managed"
#: ``<namespace>/<stream>:<tag>``: the ImageStreamTag the Build was meant to push to.
DESTINATION_ANNOTATION: Final = BUILD_ANNOTATION_PREFIX + "destination-imagestream"
#: ``v1:<hex HMAC-SHA256>``: the webhook's signed decision (``webhook/decisions.py``).
RECORD_ANNOTATION: Final = BUILD_ANNOTATION_PREFIX + "decision"
#: ``"true"`` once the operator imported the pushed image into the destination tag.
IMPORTED_ANNOTATION: Final = BUILD_ANNOTATION_PREFIX + "destination-imagestreamtag-imported"
