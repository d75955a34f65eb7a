# The consultation story of tests/consults (a request routed to the Korean partner when only it
# answers), for the tests of what a consultant abroad may see.
from ..consults.conftest import scene  # noqa: F401
