//! The Custos policy language (PRODUCT.md C1).
