//! Data-subject requests: lifecycle, identity verification, restriction and objection flags, erasure honouring Art. 17(3).
