"""NuPIC's ``nupic.data``: the ``InferenceShifter`` that lines predictions up with the records they predict."""
