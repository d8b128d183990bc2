"""The test suite: one folder per package of roadworks/, shared fixtures in conftest.py."""
