"""RM Studio: a desktop workbench for RemoteMedia pipelines run in a WebAssembly sandbox."""

__version__ = "0.1.0"
