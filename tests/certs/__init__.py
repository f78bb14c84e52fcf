"""Tests of the certificate tooling."""
