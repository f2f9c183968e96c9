//! Disclosures to recipients, their webhooks, and the outbox of notifications (Art. 19).
