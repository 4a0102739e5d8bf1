"""Compatibility subset of IA Modules provided by the ia-go Python shim.

Only what step code imports is here: ``ia_modules.pipeline.Step`` (alias
``PipelineStep``), ``ia_modules.pipeline.core.Step``,
``ia_modules.pipeline.services.ServiceRegistry`` and the error classes of
``ia_modules.pipeline.errors``. Standard library only.
"""

__version__ = "0.1.3+ia-go"
