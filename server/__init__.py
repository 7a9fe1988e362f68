"""The nasrec HTTP service: ``create_app(settings)`` in ``server.main``."""
