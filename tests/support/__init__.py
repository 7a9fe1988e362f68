"""Helpers shared by the test directories (importable as ``tests.support``; the repo root is on
``sys.path`` through pytest's ``pythonpath``): ``store`` runs a test on every store backend,
``service`` makes users, datasets, seeded jobs and live servers for the service's tests."""
