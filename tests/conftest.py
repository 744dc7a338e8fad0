"""Suite-wide set-up."""

# The hypothesis pytest plugin imports hypothesis at the end of the session when no test has;
# CPython 3.11.7 then sometimes fails its AST parse ("AST constructor recursion depth
# mismatch") after the app tests ran threads. Importing it first, before any thread, avoids that.
import os

import hypothesis  # noqa: F401

# Rules run strictly in the suite: one that raises fails the test instead of becoming a note.
os.environ["GOREEF_STRICT_RULES"] = "1"
