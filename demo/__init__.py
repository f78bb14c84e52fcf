"""The embedded end-to-end demo: starts every component on loopback, plays an OpenShift user."""
