"""The self-managed certificate pair: when it is replaced, and its round trip through a Secret."""

from __future__ import annotations

import base64
import datetime

import pytest

from certs.issuing import make_ca, make_serving_cert, subject_alternative_names
from certs.sharing import SharedCertificates, replacement_for

START = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)


def pair(
    now: datetime.datetime = START, *, ca_days: int = 3650, days: int = 365
) -> SharedCertificates:
    ca = make_ca(now=now, days=ca_days)
    return SharedCertificates(ca, make_serving_cert(ca, "hook", "qb", days=days, now=now))


class TestReplacement:
    def test_nothing_yet_gets_a_new_ca_and_certificate(self) -> None:
        made = replacement_for(None, "hook", "qb", now=START)

        assert made is not None
        assert "hook.qb.svc" in subject_alternative_names(made.serving.cert_pem)[0]

    def test_a_good_pair_is_kept(self) -> None:
        assert replacement_for(pair(), "hook", "qb", now=START + 30 * DAY) is None

    def test_a_certificate_due_for_renewal_is_reissued_by_the_same_ca(self) -> None:
        existing = pair()

        made = replacement_for(existing, "hook", "qb", now=START + 300 * DAY)

        assert made is not None
        assert made.ca == existing.ca
        assert made.serving.cert_pem != existing.serving.cert_pem

    @pytest.mark.parametrize(
        ("dns", "ips"), [(["extra.example"], []), ([], ["127.0.0.1"])], ids=["dns", "ip"]
    )
    def test_a_certificate_missing_a_wanted_name_is_reissued_by_the_same_ca(
        self, dns: list[str], ips: list[str]
    ) -> None:
        existing = pair()

        made = replacement_for(existing, "hook", "qb", dns_names=dns, ip_addresses=ips, now=START)

        assert made is not None
        assert made.ca == existing.ca
        names, addresses = subject_alternative_names(made.serving.cert_pem)
        assert set(dns) <= set(names)
        assert set(ips) <= set(addresses)

    def test_a_ca_due_for_renewal_is_replaced_with_its_certificate(self) -> None:
        existing = pair(ca_days=30, days=10)

        made = replacement_for(existing, "hook", "qb", now=START + 25 * DAY)

        assert made is not None
        assert made.ca.cert_pem != existing.ca.cert_pem


class TestSecretData:
    def test_a_pair_round_trips_through_secret_data(self) -> None:
        shared = pair()

        assert SharedCertificates.from_secret_data(shared.secret_data()) == shared

    @pytest.mark.parametrize(
        "mangle",
        [
            lambda data: {},
            lambda data: {k: v for k, v in data.items() if k != "ca.key"},
            lambda data: {**data, "tls.key": "not base64!"},
            lambda data: {**data, "tls.key": base64.b64encode(b"junk").decode()},
            lambda data: {**data, "tls.key": data["ca.key"]},
            lambda data: {**data, "tls.crt": 5},
        ],
        ids=["empty", "no-ca-key", "bad-base64", "junk-key", "wrong-key", "not-text"],
    )
    def test_incomplete_or_broken_data_reads_as_nothing(self, mangle: object) -> None:
        data = pair().secret_data()

        assert SharedCertificates.from_secret_data(mangle(data)) is None  # type: ignore[operator]
