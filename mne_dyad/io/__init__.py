"""Reading recordings and combining them into dyadic session Raws."""

from ._acq import read_raw_acq
from ._bids import read_raw_bids_physio
from ._coding import read_segments
from ._dyad import combine_dyad
from ._e4 import read_raw_e4
from ._generic import read_raw_mne
from ._session import get_session_info
from ._study import READERS, Study, read_recording, read_study
from ._tabular import read_raw_tabular

__all__ = [
    "READERS",
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
