"""The end-to-end tests drive the Kapacitor version the stack ships with, unless another one was chosen."""

import os

from influxhtm.stack.kapacitord import DEFAULT_VERSION, VERSION_ENV, kapacitord_version


def test_drives_the_chosen_kapacitord_version(kapacitord_path):
    version = kapacitord_version(kapacitord_path)  # raises when the binary reports no version
    if "KAPACITORD" not in os.environ:  # a binary of the user's own choice may be any version
        assert version == os.environ.get(VERSION_ENV, DEFAULT_VERSION)
