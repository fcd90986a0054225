"""First calls racing for a new person on their device, each on its own connection, against real
PostgreSQL: two tabs (or a page call and a claim) that identify the same new user with the same
device id at the same moment."""

from __future__ import annotations

import pytest

from profiles.models import Profile
from profiles.services import profile_identify
from tests.helpers import race

pytestmark = pytest.mark.django_db(transaction=True)
# Rounds of four calls: without the lock, 200 rounds hit the deadlock in both cases here.
ROUNDS = 200


@pytest.mark.parametrize("email", [None, "ada@example.com"])
def test_a_new_user_identified_on_a_new_device_by_four_calls_at_once(environment, email):
    """Each call inserts the person with the user id (the upsert's arbiter) and the device id
    (another unique index): without the identifiers' lock, two such inserts wait on each other's
    speculative insertion and PostgreSQL aborts one ("deadlock detected", a 500)."""
    for n in range(ROUNDS):
        user, device = f"user-{n}", f"device-{n:012d}"
        address = email and f"{n}-{email}"

        def identify(user=user, device=device, address=address) -> None:
            profile_identify(
                environment=environment,
                user_id=user,
                anonymous_id=device,
                email=address,
                traits={"plan": "pro"},
            )

        assert race([identify] * 4)[1] == []
        [profile] = Profile.objects.filter(environment=environment, user_id=user)
        assert (profile.anonymous_id, profile.traits) == (device, {"plan": "pro"})
    assert Profile.objects.filter(environment=environment).count() == ROUNDS
