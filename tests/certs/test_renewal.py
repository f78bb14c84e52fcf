"""Renewal: a certificate is renewed once less than a third of its lifetime is left."""

from __future__ import annotations

import datetime

import pytest

from certs.issuing import CLOCK_SKEW, CertificateError, make_ca, make_serving_cert
from certs.renewal import needs_renewal, renewal_time

START = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)


class TestRenewalDecision:
    @pytest.mark.parametrize(
        ("days", "elapsed", "due"),
        [
            (90, DAY, False),
            (90, 59 * DAY, False),
            (90, 60 * DAY + CLOCK_SKEW, True),
            (90, 89 * DAY, True),
            (90, 100 * DAY, True),
            (3, DAY, False),
            (3, 2 * DAY + CLOCK_SKEW, True),
        ],
    )
    def test_renewal_is_due_with_less_than_a_third_of_the_lifetime_left(
        self, days: int, elapsed: datetime.timedelta, due: bool
    ) -> None:
        ca = make_ca(now=START)
        cert = make_serving_cert(ca, "hook", "qb", days=days, now=START).cert_pem

        assert needs_renewal(cert, now=START + elapsed) is due

    def test_the_renewal_time_is_two_thirds_into_the_lifetime(self) -> None:
        cert = make_ca(days=30, now=START).cert_pem

        lifetime = datetime.timedelta(days=30) + CLOCK_SKEW
        assert renewal_time(cert) == START - CLOCK_SKEW + lifetime * 2 / 3

    def test_a_file_that_is_not_a_certificate_gives_a_clear_error(self) -> None:
        with pytest.raises(CertificateError, match="not a PEM certificate"):
            needs_renewal(b"garbage")
