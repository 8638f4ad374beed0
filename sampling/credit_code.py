"""Unified social credit codes (统一社会信用代码, GB 32100-2015).

An 18-character code: registration authority, entity type, the 6-digit
administrative division, the 9-character organisation code, and a check
character computed over the first 17 with weights 3^i mod 31.
"""

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}


def check_character(body17: str) -> str:
    """Return the check character for the first 17 characters of a code."""
    if len(body17) != 17:
        raise ValueError("the code body must be 17 characters")
    try:
        total = sum(_VALUE[ch] * w for ch, w in zip(body17, WEIGHTS, strict=True))
    except KeyError as exc:
        raise ValueError(f"character {exc.args[0]!r} is not allowed in a credit code") from None
    return ALPHABET[(31 - total % 31) % 31]


def make_code(body17: str) -> str:
    """Return the full 18-character code for a 17-character body."""
    return body17 + check_character(body17)


def problem(code: str) -> str | None:
    """Say what is wrong with a credit code, or None when it is valid."""
    if len(code) != 18:
        return "统一社会信用代码应为18位 (a unified social credit code has 18 characters)"
    bad = sorted({ch for ch in code if ch not in _VALUE})
    if bad:
        return f"统一社会信用代码含非法字符 (characters not allowed: {''.join(bad)})"
    if not code[2:8].isdigit():
        return "第3-8位应为行政区划码 (characters 3-8 must be the division code)"
    expected = check_character(code[:17])
    if code[17] != expected:
        return f"校验码错误 (check character should be {expected}, not {code[17]})"
    return None


def is_valid(code: str) -> bool:
    """Tell whether a credit code is well formed with a correct check character."""
    return problem(code) is None
