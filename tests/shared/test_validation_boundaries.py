"""Input validation at its edges: the size limit to the byte, what a 415 reports, keyword-only options.

Written against the mutants that survived `make mutate TARGET=shared/validation.py` (docs/mutation.md).
"""

import pytest

from shared.errors import PayloadTooLarge, UnsupportedMediaType
from shared.validation import MAX_BODY, parse_json, read_json, read_json_object


def post(request_for, body, **headers):
    return request_for("/x", method="POST", body=body, headers={"content-type": "application/json", **headers})


def json_string_of(size):
    """A JSON document (a string) of exactly `size` bytes."""
    return '"' + "a" * (size - 2) + '"'


async def test_the_default_limit_is_one_mebibyte_to_the_byte(request_for):
    assert MAX_BODY == 1_048_576
    assert len(await read_json(post(request_for, json_string_of(1_048_576)))) == 1_048_574
    with pytest.raises(PayloadTooLarge) as info:
        await read_json(post(request_for, json_string_of(1_048_577)))
    assert info.value.details == {"max_bytes": 1_048_576}


async def test_a_body_of_exactly_max_bytes_is_read_and_one_more_is_refused(request_for):
    assert await read_json(post(request_for, json_string_of(10)), max_bytes=10) == "a" * 8
    with pytest.raises(PayloadTooLarge):
        await read_json(post(request_for, json_string_of(11)), max_bytes=10)


async def test_a_content_length_up_to_max_bytes_is_trusted_and_above_it_refused_unread(request_for):
    assert await read_json(post(request_for, json_string_of(10), **{"content-length": "10"}), max_bytes=10) == "a" * 8
    assert await read_json(post(request_for, "1", **{"content-length": "1"}), max_bytes=10) == 1
    with pytest.raises(PayloadTooLarge):
        # the header alone decides: the (small) body is never read
        await read_json(post(request_for, "1", **{"content-length": "11"}), max_bytes=10)


async def test_a_415_names_the_media_type_it_refused_cut_to_100_characters(request_for):
    with pytest.raises(UnsupportedMediaType) as info:
        await read_json(post(request_for, "{}", **{"content-type": "text/plain; charset=utf-8"}))
    assert info.value.details == {"content_type": "text/plain"}
    long_type = "text/" + "x" * 200
    with pytest.raises(UnsupportedMediaType) as info:
        await read_json(post(request_for, "{}", **{"content-type": long_type}))
    assert info.value.details == {"content_type": long_type[:100]}


async def test_read_json_object_takes_a_form_labelled_body_unless_strict(request_for):
    form = {"content-type": "application/x-www-form-urlencoded"}
    assert await read_json_object(post(request_for, '{"a": 1}', **form)) == {"a": 1}
    with pytest.raises(UnsupportedMediaType):
        await read_json_object(post(request_for, '{"a": 1}', **form), strict=True)


async def test_the_size_and_strictness_options_are_keyword_only(request_for):
    request = post(request_for, "{}")
    with pytest.raises(TypeError):
        read_json(request, 10)
    with pytest.raises(TypeError):
        read_json_object(request, 10)
    with pytest.raises(TypeError):
        parse_json(request, dict, 10)
