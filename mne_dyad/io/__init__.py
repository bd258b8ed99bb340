"""Reading recordings and combining them into dyadic session Raws."""

from ._session import get_session_info
from .acq import read_raw_acq
from .bids import read_raw_bids_physio
from .coding import read_segments
from .dyad import combine_dyad
from .e4 import read_raw_e4
from .generic import read_raw_mne
from .study import Study, read_recording, read_study
from .tabular import read_raw_tabular

__all__ = [
    "Study",
    "combine_dyad",
    "get_session_info",
    "read_raw_acq",
    "read_raw_bids_physio",
    "read_raw_e4",
    "read_raw_mne",
    "read_raw_tabular",
    "read_recording",
    "read_segments",
    "read_study",
]
