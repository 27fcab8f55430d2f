"""Calibration: marginal maximum likelihood estimation of item parameters."""
