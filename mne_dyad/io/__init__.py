"""Reading recordings and combining them into dyadic session Raws."""

from .dyad import combine_dyad, get_session_info

__all__ = ["combine_dyad", "get_session_info"]
