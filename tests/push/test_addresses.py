"""Webhook URL checks (roadworks/push/addresses.py)."""

from __future__ import annotations

import pytest

from roadworks.push import addresses


def test_a_public_address_passes_and_a_private_one_only_when_allowed():
    assert addresses.check("https://93.184.215.14/hook", allow_private=False) == ["93.184.215.14"]
    with pytest.raises(addresses.Refused):
        addresses.check("http://192.168.1.5/hook", allow_private=False)
    assert addresses.check("http://192.168.1.5/hook", allow_private=True) == ["192.168.1.5"]


def test_a_name_is_resolved_and_every_address_checked():
    with pytest.raises(addresses.Refused, match="resolves to 127"):
        addresses.check("http://localhost:8080/hook", allow_private=False)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.1", "172.16.0.1", "169.254.169.254", "::1", "fe80::1",
                                     "fc00::1", "0.0.0.0", "100.64.0.1", "224.0.0.1"])
def test_internal_addresses_are_not_public(address):
    assert not addresses.public(address)
