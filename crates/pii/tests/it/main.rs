mod accuracy;
mod robustness;
