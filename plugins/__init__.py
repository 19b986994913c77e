"""hepreco.plugins: registration of the built-in components, and examples.

==============  ==============================================================
``builtin``     the plugin module behind the entry point ``hepreco: builtin``
``examples/``   an experiment-specific plugin package (installable on its own)
==============  ==============================================================
"""
