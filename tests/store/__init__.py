"""Tests of roadworks/store/: storage, versions and the change sequence."""
