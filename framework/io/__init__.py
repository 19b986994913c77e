"""Event sources and output streams.

=============  ================================================================
module         contents
=============  ================================================================
``source``     EventSource, WorkItem (picklable units of work), file listing
``root``       RootSource and RootOutput (TTree through uproot mktree/extend)
``hdf5``       Hdf5Source and Hdf5Output (h5py; exact awkward round trip)
``output``     OutputStream base: event selection, atomic part files
``reader``     :func:`read`: a job's output streams back as awkward arrays
=============  ================================================================
"""
from .reader import read

__all__ = ["read"]
