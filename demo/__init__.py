"""The embedded end-to-end demo: starts every component on loopback and plays what an OpenShift user does."""
