//! Streaming reads of a subject's records for access and portability answers (Art. 15, 20).
