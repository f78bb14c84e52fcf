"""The controller: settings, naming, planning, the Quay client, cluster writes, kopf handlers."""
