"""Packaging tools: the OLM bundle generator and the checks on crds/, deploy/ and the Dockerfile.

They are a package so the tests in ``tests/packaging`` import the same code the command line runs.
"""
