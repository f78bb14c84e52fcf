"""Cases where the simulator answers differently from kube-apiserver, and why that is kept.

Each entry names a recorded case and the reason; ``docs/simulator.md`` lists the same. The replay
test fails when one of these starts to match (the entry is then stale) or when any other case
differs.
"""

from __future__ import annotations

DELIBERATE: dict[str, str] = {
    "server-side-apply": (
        "server-side apply (managed fields, field ownership, conflicts) is not simulated: 415; "
        "kubectl's default client-side apply works"
    ),
    "secret-dockerconfigjson-not-json": (
        "the status code, reason and field agree; the detail quotes the JSON decoder's own "
        "error (Go's encoding/json words it differently from Python's json module)"
    ),
    "list-bad-selector": (
        "the 400 BadRequest agrees; the detail is the label-selector parser's own wording"
    ),
    "namespace-delete-terminating": (
        "the recording server runs no namespace controller, so an emptied namespace stays "
        "Terminating (403 for new content); the simulator finishes deleting it at once (404)"
    ),
    "watch-label-selector-enter-leave": (
        "a watch with a selector sends the object's new state in the DELETED event of an object "
        "leaving the selection; kube-apiserver sends its last state that matched. The watch code "
        "is being reworked for watches from unknown resourceVersions; this follows with it"
    ),
}
