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


def test_a_destination_names_the_urls_host_and_port_and_keeps_the_resolvers_order(resolver):
    resolver["hook.test"] = ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "93.184.216.34"]
    assert addresses.destination("https://Hook.test/hook?x=1", allow_private=False) == addresses.Destination(
        "https", "hook.test", 443, ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"])
    assert addresses.destination("http://hook.test:8080/", allow_private=False).port == 8080


def test_one_private_address_among_public_ones_refuses_the_name(resolver):
    resolver["mixed.test"] = ["93.184.216.34", "169.254.169.254"]
    with pytest.raises(addresses.Refused, match="169.254.169.254"):
        addresses.destination("https://mixed.test/hook", allow_private=False)
    assert addresses.check("https://mixed.test/hook", allow_private=True) == ["93.184.216.34", "169.254.169.254"]


def test_an_international_name_is_looked_up_and_named_in_its_ascii_form(resolver):
    resolver["xn--bcher-kva.test"] = ["93.184.216.34"]
    assert addresses.destination("https://bücher.test/hook", allow_private=False).host == "xn--bcher-kva.test"
