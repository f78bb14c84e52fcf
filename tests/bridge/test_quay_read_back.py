"""``read_back``: the one check of a create whose object a GET shows (orgs, repos, robots)."""

from __future__ import annotations

import pytest

from bridge.quay.client import read_back
from bridge.quay.errors import Forbidden, NotFound, Unavailable


async def test_an_object_the_get_answers_for_is_in_place_with_that_answer() -> None:
    async def read() -> dict[str, str]:
        return {"name": "org"}

    assert await read_back(read, NotFound)() == (True, {"name": "org"})


@pytest.mark.parametrize("error", [NotFound("gone"), Forbidden("hidden")])
async def test_each_absent_error_means_not_in_place(error: Exception) -> None:
    async def read() -> None:
        raise error

    assert await read_back(read, NotFound, Forbidden)() == (False, None)


async def test_any_other_error_of_the_get_is_raised() -> None:
    async def read() -> None:
        raise Unavailable("cannot reach Quay")

    with pytest.raises(Unavailable, match="cannot reach Quay"):
        await read_back(read, NotFound)()

    async def forbidden() -> None:
        raise Forbidden("no")

    with pytest.raises(Forbidden):
        await read_back(forbidden, NotFound)()
