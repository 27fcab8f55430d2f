"""Zapcat's faces: the HTTP delivery service and the ``zapcat`` command line."""
