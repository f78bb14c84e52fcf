"""The controller: QuayIntegration settings, naming, planning, the Quay client, cluster writes, kopf handlers."""
