#!/bin/sh
# Remove quay-bridge's finalizer and managed label from every namespace, for when the operator is gone
# (uninstalled before its QuayIntegrations were deleted, or by OLM, which keeps the CRD and the
# QuayIntegrations). Namespaces already stuck in Terminating on the finalizer then finish deleting.
# Nothing in Quay is touched: organizations, robots and repositories stay. docs/install.md,
# "Uninstalling", says when to run it. Uses $KUBECTL (default: kubectl) and its current context.
set -eu
KUBECTL=${KUBECTL:-kubectl}
FINALIZER=quay.redhat.com/quayintegrations
LABEL=quay-bridge.quay.redhat.com/managed
released=0
for ns in $("$KUBECTL" get namespaces -o name); do
  index=$("$KUBECTL" get "$ns" -o go-template="{{range \$i, \$f := .metadata.finalizers}}{{if eq \$f \"$FINALIZER\"}}{{\$i}}{{end}}{{end}}")
  if [ -n "$index" ]; then
    # The test operation makes the patch fail, rather than remove another finalizer, if the list
    # changed since it was read.
    "$KUBECTL" patch "$ns" --type=json -p "[{\"op\":\"test\",\"path\":\"/metadata/finalizers/$index\",\"value\":\"$FINALIZER\"},{\"op\":\"remove\",\"path\":\"/metadata/finalizers/$index\"}]" >/dev/null
    released=$((released + 1))
    echo "released $ns"
  fi
done
for ns in $("$KUBECTL" get namespaces -l "$LABEL" -o name); do
  "$KUBECTL" label "$ns" "$LABEL-" >/dev/null
done
echo "$released namespaces released; their Quay organizations are kept"
