//! Delivers the notifications outbox: signed webhooks with retries and a dead-letter list (Art. 19).
