"""Suite-wide set-up."""

# The hypothesis pytest plugin imports hypothesis at the end of the session when no test has;
# CPython 3.11.7 then sometimes fails its AST parse ("AST constructor recursion depth
# mismatch") after the app tests ran threads. Importing it first, before any thread, avoids that.
import hypothesis  # noqa: F401
