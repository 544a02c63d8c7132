"""Tests of the Kapacitor UDF protocol library, and a protocol-level client other suites reuse."""
