"""The embedded sample store: a deterministic generator of a whole store's source files, the default
source and the test suite's fixture. It writes files in the source schema; it is not a source adapter."""
