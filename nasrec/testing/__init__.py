"""Test helpers that ship with the package (conformance fixtures for the backends)."""
