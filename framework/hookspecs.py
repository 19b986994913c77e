"""Hook specifications of hepreco (pluggy project name ``hepreco``).

A plugin is any module or object with functions marked ``@hookimpl`` whose
names are among the specifications below.  Third-party packages make their
plugin known through the entry-point group ``hepreco`` in their packaging
metadata; the built-in algorithms are registered the same way
(``hepreco.plugins.builtin``).

Registration hooks are called once per process when the registry is built;
every plugin's result is collected (none is first-result).  Job hooks are
called in the client process only, once per job.
"""
from __future__ import annotations

import pluggy

PROJECT = "hepreco"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- registration ------------------------------------------------------------
@hookspec
def hepreco_register_algorithms() -> list[type]:
    """Return the :class:`~hepreco.framework.algorithm.Algorithm` subclasses this plugin provides.

    Job options refer to them by ``type_name`` (the class name by default).
    Entries may also be lazy references ``"package.module:ClassName"``,
    imported only when a job uses them (their name is ``ClassName``).
    Called once per process; results of all plugins are collected.
    """


@hookspec
def hepreco_register_services() -> list[type]:
    """Return the :class:`~hepreco.framework.services.Service` subclasses this plugin provides.

    Called once per process; results of all plugins are collected.
    """


@hookspec
def hepreco_register_sources() -> list[type]:
    """Return the :class:`~hepreco.framework.io.source.EventSource` subclasses this plugin provides.

    Called once per process; results of all plugins are collected.
    """


@hookspec
def hepreco_register_outputs() -> list[type]:
    """Return the :class:`~hepreco.framework.io.output.OutputStream` subclasses this plugin provides.

    Called once per process; results of all plugins are collected.
    """


@hookspec
def hepreco_register_geometries() -> dict[str, str]:
    """Return ``{geometry name: path of its description file}`` for detector geometries.

    Called once per process; results of all plugins are collected.
    """


@hookspec
def hepreco_register_artefacts() -> list[str]:
    """Return the artefact files, or folders of artefact files, this plugin ships.

    Each file carries its metadata (name, version, kind, schema, geometry;
    see :mod:`hepreco.framework.artefacts`); files without metadata in a
    folder are ignored.  An artefact named in job options is looked for in
    the job's path, the user's folder (``$HEPRECO_ARTEFACTS``), the plugins'
    locations, then hepreco's built-ins (the built-in plugin's locations).
    Called once per process; results of all plugins are collected.
    """


# -- job life cycle (client process) -------------------------------------------
@hookspec
def hepreco_job_start(config: dict, output_dir: str) -> None:
    """Called once in the client before the first work item is dispatched.

    Parameters
    ----------
    config
        The fully resolved configuration (as written by ``--dump-config``).
    output_dir
        Folder that receives outputs, histograms and ``report.json``.
    """


@hookspec
def hepreco_job_end(report: dict) -> None:
    """Called once in the client after the job report is complete, before it is written.

    Plugins may add their own entries to ``report`` (a JSON-serialisable dict).
    """
