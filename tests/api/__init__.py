"""Tests of roadworks/api/: the HTTP layer, blueprint by blueprint."""
