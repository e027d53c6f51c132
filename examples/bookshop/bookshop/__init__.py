"""A small bookshop: the example application whose test suite shows yara_testing at work."""
