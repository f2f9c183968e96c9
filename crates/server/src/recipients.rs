//! Disclosures and recipients' webhooks over HTTP (Art. 19).
