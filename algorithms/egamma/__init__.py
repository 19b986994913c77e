"""Electron and photon candidates from clusters: shower shapes and cell windows for identification."""
