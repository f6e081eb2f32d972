from __future__ import annotations

import pytest

from pytest_jiramigrate.core.sizes import format_size, parse_size


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        (0, 0),
        (2048, 2048),
        ("2048", 2048),
        ("512B", 512),
        ("1 kb", 1000),
        ("500MB", 500_000_000),
        ("10GB", 10_000_000_000),
        ("10gb", 10_000_000_000),
        ("1.5 GB", 1_500_000_000),
        ("2 TB", 2 * 1000**4),
        ("1KiB", 1024),
        ("3 MiB", 3 * 1024**2),
        ("5 GiB", 5 * 1024**3),
        ("5 gib", 5 * 1024**3),
        ("1TiB", 1024**4),
        (" 7 GB ", 7_000_000_000),
        (".5 KB", 500),
        ("1.1 KiB", 1126),
    ],
)
def test_parse_size_accepts_decimal_and_binary_units(written: str | int, expected: int) -> None:
    assert parse_size(written) == expected


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("", "empty value"),
        ("   ", "empty value"),
        ("-1GB", "cannot be negative"),
        (-5, "cannot be negative"),
        ("10 XB", "unknown size unit 'XB'"),
        ("10 gigabytes", "unknown size unit 'gigabytes'"),
        ("GB", "expected a size"),
        ("1.2.3 GB", "expected a size"),
        ("10 G B", "expected a size"),
        (True, "expected a size"),
        (1.5, "expected a size"),
    ],
)
def test_parse_size_refuses_what_is_not_a_size(written: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_size(written)  # type: ignore[arg-type]


def test_unknown_unit_message_lists_both_unit_systems() -> None:
    with pytest.raises(ValueError) as info:
        parse_size("3 PB")
    assert "KB, MB, GB, TB" in str(info.value)
    assert "KiB, MiB, GiB, TiB" in str(info.value)


@pytest.mark.parametrize(
    ("n", "shown"),
    [
        (0, "0 B"),
        (512, "512 B"),
        (999, "999 B"),
        (1000, "1.0 KB"),
        (1536, "1.5 KB"),
        (999_950, "1.0 MB"),
        (250 * 1000**3, "250.0 GB"),
        (10 * 1000**3, "10.0 GB"),
        (5 * 1024**3, "5.4 GB"),
        (3 * 1000**4, "3.0 TB"),
        (4000 * 1000**4, "4000.0 TB"),
    ],
)
def test_format_size_uses_short_decimal_units(n: int, shown: str) -> None:
    assert format_size(n) == shown


def test_format_size_refuses_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        format_size(-1)


@pytest.mark.parametrize("n", [0, 1, 999, 10**3, 123_456_789, 10 * 1000**3, 7 * 1000**4])
def test_formatted_size_parses_back_within_rounding(n: int) -> None:
    assert abs(parse_size(format_size(n).replace(" ", "")) - n) <= max(1, n) * 0.05
