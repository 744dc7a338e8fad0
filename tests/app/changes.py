"""The Go changes the app's tests push: the test tree's `fetch/price.go`, made to leak or kept clean."""

from __future__ import annotations

from pathlib import Path

PRICE = "fetch/price.go"
GOTREE = Path(__file__).parent / "gotree"
CLEAN_PRICE = (GOTREE / PRICE).read_bytes()
# The change under review: a context whose cancel function is thrown away, leaking its timer
# and the goroutine-visible context until the parent ends (GR203).
LEAKING_PRICE = CLEAN_PRICE.replace(b'"errors"\n', b'"errors"\n\t"time"\n').replace(
    b"\tif err := ctx.Err(); err != nil {",
    b"\tctx, _ = context.WithTimeout(ctx, time.Second)\n\tif err := ctx.Err(); err != nil {",
)
LEAK_LINE = LEAKING_PRICE.splitlines().index(b"\tctx, _ = context.WithTimeout(ctx, time.Second)") + 1
FIXED_PRICE = LEAKING_PRICE.replace(
    b"\tctx, _ = context.WithTimeout(ctx, time.Second)",
    b"\tctx, cancel := context.WithTimeout(ctx, time.Second)\n\tdefer cancel()",
)
CLEAN_ADDITION = (
    CLEAN_PRICE
    + b"\n// Known reports whether item has a price.\nfunc Known(item string) bool {\n\t_, ok := prices[item]\n\treturn ok\n}\n"
)


def leak_lines(source: bytes) -> list[int]:
    """The lines of `source` that leak a context (each one finding)."""
    return [i for i, line in enumerate(source.splitlines(), 1) if b"context.WithTimeout" in line]


def many_leaks(count: int) -> bytes:
    functions = "".join(
        f"\nfunc Leak{i}(ctx context.Context) error {{\n\tctx, _ = context.WithTimeout(ctx, time.Second)\n"
        f"\treturn ctx.Err()\n}}\n"
        for i in range(count)
    )
    return f'package fetch\n\nimport (\n\t"context"\n\t"time"\n)\n{functions}'.encode()
