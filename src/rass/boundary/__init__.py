"""The safety decision boundary: projections, fitted threshold, steering distance, analysis, plots."""
