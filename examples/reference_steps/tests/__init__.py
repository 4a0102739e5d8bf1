"""Example implementations of the step classes named by the IA Modules
reference pipelines (module paths tests.pipelines.<pipeline>.steps.<name>).

Put the folder holding this package on the Python path (ia run
--python-path examples/reference_steps) and the reference pipelines run
unchanged through the Python shim. See examples/README.md.
"""
